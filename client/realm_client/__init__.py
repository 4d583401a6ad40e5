"""openrealm's client library: the async API a game client (or a bot) uses to play."""

from realm_client.client import ClientError, RealmClient
from realm_client.gateway import GatewayClient, GatewayError, Login

__all__ = ["ClientError", "GatewayClient", "GatewayError", "Login", "RealmClient"]
