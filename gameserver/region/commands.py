"""The combat commands a client sends to the region server that simulates it.

The RCM routes these (and the snapshot ack carried in `Inputs.ack_tick`) to the player's
region server without looking inside; a region handle that can take them implements
`CommandSink`. They are unreliable and idempotent-or-checked on the server (a cast that
arrives twice fails the second time on the global cooldown), so a lost one is simply sent
again by the player.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from gameserver.wire.messages import CastAbility, Message, Respawn, SetAutoAttack, SnapshotAck

GAME_COMMANDS = (CastAbility, SetAutoAttack, Respawn, SnapshotAck)


@runtime_checkable
class CommandSink(Protocol):
    def submit_command(self, character_id: int, msg: Message) -> None: ...


__all__ = ["GAME_COMMANDS", "CommandSink"]
