"""Realm settings: one model, read from flags, `REALM_*` environment variables and an
optional TOML config file (in that order of precedence).

Embedded is the default: with no database or Redis URL the realm keeps durable data in a
SQLite file under `data_dir` and hot state in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

#: Bounds of one snapshot (`snapshot_budget_bytes * snapshot_every`): it must fit one
#: datagram (`gameserver.wire.datagram.MAX_DATAGRAM`) and hold its fixed part (framing,
#: header, the client's own state: up to ~190 bytes) with room for some of the world.
MIN_SNAPSHOT_BYTES = 200
MAX_SNAPSHOT_BYTES = 1200


class RealmSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REALM_", extra="forbid", toml_file=None)

    name: str = Field(
        "home", description="Realm name, shown in the realm list and used as a metrics label."
    )
    data_dir: Path = Field(
        Path("./realm-data"), description="Where the embedded realm keeps its SQLite file."
    )
    host: str = Field("127.0.0.1", description="Address the client-facing ports bind to.")
    public_host: str = Field("", description="Address given to clients; defaults to `host`.")
    http_port: int = Field(
        8080, ge=0, le=65535, description="Gateway HTTP port (0 picks a free one)."
    )
    udp_port: int = Field(7777, ge=0, le=65535, description="RCM UDP port (0 picks a free one).")
    metrics_port: int = Field(
        9100, ge=0, le=65535, description="Prometheus /metrics port (0 picks a free one)."
    )
    postgres_url: str | None = Field(None, description="PostgreSQL DSN; unset keeps SQLite.")
    redis_url: str | None = Field(None, description="Redis URL; unset keeps hot state in memory.")
    tick_rate: int = Field(20, ge=1, le=120, description="Region server ticks per second.")
    snapshot_every: int = Field(
        2,
        ge=1,
        le=10,
        description="A client gets a snapshot every this many ticks (staggered over the"
        " clients), of up to this many times snapshot_budget_bytes: the same bandwidth, less"
        " tick CPU, and the ~140 fixed bytes of a snapshot spread over more entity updates"
        " (see docs/performance.md).",
    )
    snapshot_budget_bytes: int = Field(
        200,
        ge=20,
        le=MAX_SNAPSHOT_BYTES,
        description="Snapshot bytes per client per tick, datagram included (200 at 20 Hz is"
        " 4,000 B/s); a snapshot may take snapshot_every times this, which must be between"
        f" {MIN_SNAPSHOT_BYTES} and {MAX_SNAPSHOT_BYTES} (one datagram).",
    )
    max_players: int = Field(
        1000, ge=1, description="Realm-wide limit on players admitted at once."
    )
    players_per_server: int = Field(200, ge=1, description="Capacity of one region server.")
    login_rate_per_s: float = Field(
        20.0,
        gt=0,
        description="Admissions per second the login queue allows: a burst of logins cannot"
        " stall region servers.",
    )
    login_burst: int = Field(
        20,
        ge=1,
        description="Admissions the login queue may make at once after a lull (the bucket size).",
    )
    login_grace_s: float = Field(
        120.0,
        ge=0,
        description="A player who disconnected within this many seconds re-enters ahead of the"
        " login queue (0 turns it off).",
    )
    checkpoint_interval_s: float = Field(
        10.0,
        gt=0,
        description="Seconds between character checkpoints: the most play a crash can lose.",
    )
    hot_checkpoint_interval_s: float = Field(
        2.0,
        gt=0,
        description="Seconds between hot checkpoints (Redis): what a region server crash can lose.",
    )
    lease_ttl_s: float = Field(
        30.0,
        gt=1,
        description="Character lease lifetime; a dead server's characters are free after it.",
    )
    autoscale: bool = Field(
        True, description="Let the local supervisor add and drain region shards by load."
    )
    target_utilisation: float = Field(0.75, gt=0, le=1, description="Fill a shard to this share.")
    max_servers_per_region: int = Field(4, ge=1, description="Most shards the supervisor runs.")
    scale_down_window_s: float = Field(
        120.0, ge=0, description="Load must stay low this long before a shard is drained."
    )
    drain_timeout_s: float = Field(
        300.0, gt=0, description="How long a draining shard may take to move its players."
    )
    instance_hosts: int = Field(
        2, ge=1, description="Hosts that dungeon instances are packed onto."
    )
    instance_lockout_s: float = Field(
        3600.0, gt=0, description="How long a character stays saved to its dungeon instance."
    )
    instance_unload_delay_s: float = Field(
        60.0, ge=0, description="How long an empty dungeon instance is kept before unloading."
    )
    instance_host_slots: int = Field(
        10,
        ge=1,
        description="An instance host's capacity in region servers' worth of players: it holds"
        " players_per_server times this across its dungeon instances.",
    )
    map_file: Path | None = Field(
        None,
        description="A world map as JSON (gameserver.world.map.WorldMap); unset: the built-in"
        " map. Every role of a distributed realm must read the same one.",
    )
    token_ttl_s: float = Field(
        60.0, gt=0, description="How long a login token may be used to connect."
    )
    token_key: str = Field(
        "",
        description=(
            "Hex key that seals login tokens; shared by gateways and RCMs. Random when empty."
        ),
    )
    argon2_time_cost: int = Field(2, ge=1)
    argon2_memory_kib: int = Field(
        19456, ge=8, description="OWASP's argon2id minimum: 19 MiB, t=2, p=1."
    )
    patch_dir: Path | None = Field(None, description="Client files served by the patch server.")
    # --- distributed roles (`realm serve <role>`; see gameserver/roles/) -------------------
    grpc_port: int = Field(
        50051, ge=0, le=65535, description="Internal gRPC port of oem, rwam, region, rcm."
    )
    oem_address: str = Field("", description="host:port of the OEM's gRPC (rcm, region).")
    rwam_address: str = Field("", description="host:port of the RWAM's gRPC (rcm, oem).")
    rcm_address: str = Field(
        "",
        description=(
            "host:port of the RCM's UDP endpoint the gateway gives clients; defaults to "
            "public_host (or host) and udp_port."
        ),
    )
    pod_ip: str = Field(
        "", description="This process's address as peers reach it (Kubernetes: status.podIP)."
    )
    region: str = Field("", description="Region a region server simulates (a map region).")
    server_id: str = Field("", description="Region server id; defaults to <region>-<pid>.")
    id_block: int | None = Field(
        None, ge=1, le=4095, description="Entity id block of a region server; from server_id."
    )
    rpc_timeout_s: float = Field(10.0, gt=0, description="Deadline of internal gRPC calls.")

    @field_validator("token_key")
    @classmethod
    def _hex_key(cls, v: str) -> str:
        if v and len(bytes.fromhex(v)) != 32:
            raise ValueError("token_key must be 64 hex characters (32 bytes)")
        return v

    @model_validator(mode="after")
    def _snapshot_fits(self) -> RealmSettings:
        size = self.snapshot_budget_bytes * self.snapshot_every
        if not MIN_SNAPSHOT_BYTES <= size <= MAX_SNAPSHOT_BYTES:
            raise ValueError(
                f"snapshot_budget_bytes x snapshot_every = {size} bytes per snapshot, which"
                f" must be between {MIN_SNAPSHOT_BYTES} and {MAX_SNAPSHOT_BYTES} (one datagram)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @staticmethod
    def describe_error(e: ValidationError) -> str:
        """One line per bad setting, naming it: `http_port: Input should be ...`."""
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in e.errors()
        )

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> RealmSettings:
        """Flags (non-None overrides) beat the environment, which beats the config file."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        if config_file is None:
            return cls(**clean)

        class _FromFile(cls):  # type: ignore[valid-type,misc]
            model_config = SettingsConfigDict(
                env_prefix="REALM_", extra="forbid", toml_file=config_file
            )

        return _FromFile(**clean)
