"""The distributed realm's durable store: PostgreSQL through an asyncpg pool."""

from gameserver.storage.postgres.database import PostgresDatabase

__all__ = ["PostgresDatabase"]
