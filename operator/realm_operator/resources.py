"""The `Realm` and `Region` custom resources as pydantic models.

One definition serves three purposes, so they can never disagree: the operator validates
every spec it reads with these models (and names the offending field when it refuses one),
`realm_operator.crdgen` turns them into the CRDs' openAPIV3Schema (so the API server rejects
most mistakes at `kubectl apply` already), and the status writers build status through them.
Field names are camelCase on the wire (Kubernetes convention) and snake_case in Python.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from gameserver.config import MAX_SNAPSHOT_BYTES, MIN_SNAPSHOT_BYTES, RealmSettings
from gameserver.world.map import DEFAULT_MAP, RegionDef

GROUP = "mmo.openrealm.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_enum_values=False,
    )

    def dump(self) -> dict[str, Any]:
        """The wire form: camelCase, JSON types, unset optionals left out."""
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)


# A Kubernetes quantity ("500m", "1Gi", 2): the API server's own type, int or string.
Quantity = Annotated[
    str | int,
    WithJsonSchema(
        {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    ),
]
# Free-form Kubernetes structures passed through to the pod spec as they are (tolerations,
# affinity): the API server validates them when the pod is created.
FreeForm = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
]


class SecretKeyRef(_Model):
    """A key of a Secret in the resource's namespace; its value is a connection URL."""

    name: str = Field(min_length=1, max_length=253, description="Secret name.")
    key: str = Field(default="url", min_length=1, description="Key inside the Secret.")


class ResourceRequirements(_Model):
    requests: dict[str, Quantity] | None = None
    limits: dict[str, Quantity] | None = None


class ServiceType(enum.StrEnum):
    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"


class ComponentSpec(_Model):
    """One of the realm's stateless roles (gateway, rcm, oem, rwam)."""

    replicas: int = Field(default=1, ge=0, le=100, description="Pods of this role.")
    resources: ResourceRequirements | None = None
    service_type: ServiceType = Field(
        default=ServiceType.CLUSTER_IP,
        description="Service type (client-facing roles use LoadBalancer).",
    )


_HOST_PORT = r"^[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}$"


class RcmSpec(ComponentSpec):
    """The RCM: clients send their UDP game traffic to its Service."""

    public_address: str | None = Field(
        default=None,
        pattern=_HOST_PORT,
        description=(
            "host:port clients use to reach the RCM's UDP Service (the gateway hands it out as"
            " REALM_RCM_ADDRESS). Set it for LoadBalancer (the balancer's DNS name or reserved"
            " IP, port 7777) and NodePort (a node address and the node port). Default: the"
            " Service's cluster DNS name, <realm>-rcm.<namespace>.svc:7777 (in-cluster only)."
        ),
    )


class LoginQueueSpec(_Model):
    """The gateway's login queue (REALM_LOGIN_RATE_PER_S, _BURST, _GRACE_S)."""

    admissions_per_second: float = Field(
        default=20.0, gt=0, description="Rate limit on admissions, so a burst cannot stall servers."
    )
    burst: int = Field(
        default=20, ge=1, description="Admissions allowed at once after a lull (bucket size)."
    )
    reconnect_grace_seconds: float = Field(
        default=120.0,
        ge=0,
        description="A player who disconnected this recently skips the queue (0: off).",
    )


class RealmSpec(_Model):
    image: str = Field(min_length=1, description="The openrealm image every role runs.")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    max_players: int = Field(default=1000, ge=1, description="Players admitted realm-wide at once.")
    login_queue: LoginQueueSpec = LoginQueueSpec.model_validate({})
    database: SecretKeyRef = Field(description="Secret key holding the PostgreSQL DSN.")
    redis: SecretKeyRef = Field(description="Secret key holding the Redis URL.")
    token_key: SecretKeyRef | None = Field(
        default=None,
        description=(
            "Secret key holding the 64-hex login-token key shared by gateway and rcm. Unset:"
            " the operator creates (once) and owns the Secret <realm>-token-key, key `key`."
        ),
    )
    gateway: ComponentSpec = ComponentSpec.model_validate({})
    rcm: RcmSpec = RcmSpec.model_validate({})
    oem: ComponentSpec = ComponentSpec.model_validate({})
    rwam: ComponentSpec = ComponentSpec.model_validate({})
    tick_rate: int = Field(default=20, ge=1, le=120, description="Default region tick rate (Hz).")
    snapshot_every: int = Field(
        default=2,
        ge=1,
        le=10,
        description=(
            "Default snapshot interval: each client gets a snapshot every this many ticks"
            " (REALM_SNAPSHOT_EVERY; see docs/performance.md)."
        ),
    )
    snapshot_budget_bytes: int = Field(
        default=200,
        ge=20,
        le=MAX_SNAPSHOT_BYTES,
        description=(
            "Default snapshot bytes per client per tick (REALM_SNAPSHOT_BUDGET_BYTES); a"
            f" snapshot takes snapshotEvery times this, {MIN_SNAPSHOT_BYTES} to"
            f" {MAX_SNAPSHOT_BYTES} bytes."
        ),
    )

    @model_validator(mode="after")
    def _snapshot_fits(self) -> RealmSpec:
        check_snapshot_size(self.snapshot_every, self.snapshot_budget_bytes)
        return self


def check_snapshot_size(every: int, budget_bytes: int) -> None:
    """A snapshot (`budget_bytes * every`) must fit one datagram and its own fixed part, as
    `RealmSettings` requires: a server given more would refuse to start."""
    size = every * budget_bytes
    if not MIN_SNAPSHOT_BYTES <= size <= MAX_SNAPSHOT_BYTES:
        raise ValueError(
            f"snapshotBudgetBytes x snapshotEvery = {size} bytes per snapshot, which must be"
            f" between {MIN_SNAPSHOT_BYTES} and {MAX_SNAPSHOT_BYTES} (one datagram)"
        )


class ConditionStatus(enum.StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(_Model):
    type: str
    status: ConditionStatus
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = None


class RealmPhase(enum.StrEnum):
    PENDING = "Pending"
    PROGRESSING = "Progressing"
    RUNNING = "Running"
    INVALID = "Invalid"


class RealmStatus(_Model):
    phase: RealmPhase = RealmPhase.PENDING
    online_players: int = 0
    queue_length: int = 0
    ready_capacity: int = Field(
        default=0, description="Ready servers' capacity, capped by maxPlayers."
    )
    servers: int = 0
    ready_servers: int = 0
    tick_p99_ms: str = Field(default="", description="Worst region server tick p99, for printing.")
    conditions: list[Condition] = Field(default_factory=list)


class RegionKind(enum.StrEnum):
    WORLD = "world"
    INSTANCE = "instance"


def map_region_names() -> tuple[str, ...]:
    """The regions of the world map the region servers load (`gameserver.world.map`)."""
    return tuple(r.name for r in DEFAULT_MAP.regions)


class MapRef(_Model):
    """Which region of the world map this Region's servers simulate (`REALM_REGION`)."""

    region: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Map region name (e.g. elwynn, westfall). Unset: the Region's own name, which"
            " must then be a map region."
        ),
    )

    @field_validator("region")
    @classmethod
    def _known(cls, region: str | None) -> str | None:
        if region is not None and region not in map_region_names():
            raise ValueError(
                f"{region!r} is not a region of the map ({', '.join(map_region_names())})"
            )
        return region


class EnvVar(_Model):
    name: str = Field(min_length=1)
    value: str = ""

    @field_validator("name")
    @classmethod
    def _real_setting(cls, name: str) -> str:
        # A REALM_* variable no setting reads would be silently ignored by the server.
        if name.startswith("REALM_") and not is_setting_env(name):
            raise ValueError(f"{name} is not a realm setting (gameserver/config.py)")
        if name in OPERATOR_REGION_ENV:
            raise ValueError(f"{name} is set by the operator")
        return name


#: What the operator sets on every region server pod itself; a Region's podTemplate.env may
#: add other settings but not these (a server id or id block of the user's would break the
#: fleet's bookkeeping; tick rate, capacity and snapshots have their own spec fields).
OPERATOR_REGION_ENV = frozenset(
    {
        "REALM_NAME",
        "REALM_HOST",
        "REALM_METRICS_PORT",
        "REALM_DATA_DIR",
        "REALM_POSTGRES_URL",
        "REALM_REDIS_URL",
        "REALM_OEM_ADDRESS",
        "REALM_GRPC_PORT",
        "REALM_POD_IP",
        "REALM_REGION",
        "REALM_SERVER_ID",
        "REALM_ID_BLOCK",
        "REALM_TICK_RATE",
        "REALM_PLAYERS_PER_SERVER",
        "REALM_SNAPSHOT_EVERY",
        "REALM_SNAPSHOT_BUDGET_BYTES",
    }
)


def is_setting_env(name: str) -> bool:
    """Whether `REALM_<X>` is read by `RealmSettings` (the roles' one settings model)."""
    return name.startswith("REALM_") and name[6:].lower() in RealmSettings.model_fields


class PodTemplateOverrides(_Model):
    """What a Region may change in its server pods. Anything else is the operator's."""

    resources: ResourceRequirements | None = None
    node_selector: dict[str, str] | None = None
    tolerations: list[FreeForm] | None = None
    affinity: FreeForm | None = None
    priority_class_name: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    env: list[EnvVar] | None = None


class RegionSpec(_Model):
    realm_ref: str = Field(min_length=1, description="Name of the Realm in this namespace.")
    map: MapRef = Field(
        default=MapRef.model_validate({}),
        description="The map region simulated; its bounds and kind come from the world map.",
    )
    tick_rate: int | None = Field(default=None, ge=1, le=120, description="Overrides the realm's.")
    snapshot_every: int | None = Field(
        default=None, ge=1, le=10, description="Overrides the realm's snapshotEvery."
    )
    snapshot_budget_bytes: int | None = Field(
        default=None,
        ge=20,
        le=MAX_SNAPSHOT_BYTES,
        description="Overrides the realm's snapshotBudgetBytes.",
    )
    players_per_server: int = Field(default=200, ge=1, le=100000)
    target_utilisation: float = Field(default=0.75, gt=0, le=1)
    min_servers: int = Field(default=1, ge=0, le=1000)
    max_servers: int = Field(default=10, ge=1, le=1000)
    scale_up_window_seconds: int = Field(
        default=0, ge=0, description="Stabilisation before scaling up (0: prompt)."
    )
    scale_down_delay_seconds: int = Field(
        default=300, ge=0, description="Stabilisation window before scaling down."
    )
    drain_timeout_seconds: int = Field(
        default=600,
        ge=0,
        description="After this, a draining server whose players are saved may go.",
    )
    pod_template: PodTemplateOverrides = PodTemplateOverrides.model_validate({})

    @model_validator(mode="after")
    def _min_le_max(self) -> RegionSpec:
        if self.max_servers < self.min_servers:
            raise ValueError(
                f"maxServers ({self.max_servers}) must not be less than "
                f"minServers ({self.min_servers})"
            )
        return self

    @model_validator(mode="after")
    def _snapshot_fits(self) -> RegionSpec:
        if self.snapshot_every is not None and self.snapshot_budget_bytes is not None:
            check_snapshot_size(self.snapshot_every, self.snapshot_budget_bytes)
        return self

    def snapshots(self, realm: RealmSpec) -> tuple[int, int]:
        """(every, budget bytes) of this Region's servers: its own, else the realm's.
        Raises InvalidSpec when the combination does not fit a datagram."""
        every = self.snapshot_every or realm.snapshot_every
        budget = self.snapshot_budget_bytes or realm.snapshot_budget_bytes
        try:
            check_snapshot_size(every, budget)
        except ValueError as exc:
            raise InvalidSpec(f"spec: {exc} (with the realm's defaults)") from None
        return every, budget

    @property
    def map_region(self) -> RegionDef:
        """The map region (after `parse_region_spec(..., name)` resolved the default)."""
        if self.map.region is None:
            raise InvalidSpec("spec.map.region: not resolved")
        return DEFAULT_MAP.region(self.map.region)

    @property
    def kind(self) -> RegionKind:
        return RegionKind(self.map_region.kind.value)


class ServerStatus(_Model):
    pod: str
    state: Literal["Starting", "Ready", "Draining"]
    players: int = 0
    capacity: int = 0
    tick_p99_ms: float = 0.0
    drain_requested: bool = False


class RegionPhase(enum.StrEnum):
    PENDING = "Pending"
    SCALING = "Scaling"
    STABLE = "Stable"
    INVALID = "Invalid"


class Recommendation(_Model):
    at: float
    servers: int


class Drain(_Model):
    server: str
    since: float


class ScalingMemory(_Model):
    """The policy's history, kept in status so a restarted operator continues from it."""

    recommendations: list[Recommendation] = Field(default_factory=list)
    last_scale_at: float | None = None
    drains: list[Drain] = Field(default_factory=list)
    next_ordinal: int = 0


class RegionStatus(_Model):
    phase: RegionPhase = RegionPhase.PENDING
    map_region: str = Field(default="", description="The map region the servers simulate.")
    kind: str = Field(default="", description="world or instance, from the world map.")
    players: int = 0
    queue_demand: int = 0
    servers: list[ServerStatus] = Field(default_factory=list)
    server_count: int = 0
    ready_servers: int = 0
    desired_servers: int = 0
    tick_p99_ms: str = ""
    last_scale_time: str | None = None
    last_scale_reason: str | None = None
    scaling: ScalingMemory = ScalingMemory.model_validate({})
    conditions: list[Condition] = Field(default_factory=list)


class InvalidSpec(ValueError):
    """A spec the operator refuses; the message names the field (`spec.maxServers: ...`)."""


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"spec.{loc}: {msg}" if loc else f"spec: {msg}")
    return "; ".join(parts)


def parse_realm_spec(spec: Any) -> RealmSpec:
    try:
        return RealmSpec.model_validate(dict(spec or {}))
    except ValidationError as exc:
        raise InvalidSpec(_describe(exc)) from None


def parse_region_spec(spec: Any, name: str | None = None) -> RegionSpec:
    """Validate a Region spec; with the Region's `name`, also resolve `spec.map.region`
    (unset: the name, if that is a map region)."""
    try:
        parsed = RegionSpec.model_validate(dict(spec or {}))
    except ValidationError as exc:
        raise InvalidSpec(_describe(exc)) from None
    if name is None or parsed.map.region is not None:
        return parsed
    if name not in map_region_names():
        raise InvalidSpec(
            f"spec.map.region: required, since the Region's name {name!r} is not a region of"
            f" the map ({', '.join(map_region_names())})"
        )
    return parsed.model_copy(update={"map": MapRef(region=name)})
