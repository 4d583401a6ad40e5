"""What the RCM and the OEM ask of the realm-wide actions manager (characters)."""

from __future__ import annotations

from typing import Protocol

from gameserver.storage.models import Character


class RwamApi(Protocol):
    async def list_characters(self, account_id: int) -> list[Character]: ...

    async def create_character(
        self, account_id: int, name: str, race: str, char_class: str
    ) -> Character: ...

    async def owned_character(self, account_id: int, character_id: int) -> Character: ...
