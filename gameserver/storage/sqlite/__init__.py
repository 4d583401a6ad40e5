"""The embedded realm's durable store: one SQLite file, nothing to install."""

from gameserver.storage.sqlite.database import SqliteDatabase

__all__ = ["SqliteDatabase"]
