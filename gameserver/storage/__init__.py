"""Durable and hot storage for the realm, behind two protocols (see `interfaces`).

Import the protocols, records and errors from here; open the backends through
`gameserver.storage.factory.open_storage`.
"""

from gameserver.storage.interfaces import (
    Conflict,
    HotState,
    NotFound,
    RealmDatabase,
    StaleFence,
    StorageError,
    Unavailable,
)

__all__ = [
    "Conflict",
    "HotState",
    "NotFound",
    "RealmDatabase",
    "StaleFence",
    "StorageError",
    "Unavailable",
]
