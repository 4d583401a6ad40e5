"""The distributed realm's hot state: Redis through redis.asyncio."""

from gameserver.storage.redis.hotstate import RedisHotState

__all__ = ["RedisHotState"]
