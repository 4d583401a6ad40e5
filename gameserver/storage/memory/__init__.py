"""The embedded realm's hot state: dictionaries in this process, nothing to install."""

from gameserver.storage.memory.hotstate import MemoryHotState

__all__ = ["MemoryHotState"]
