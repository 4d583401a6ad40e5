"""Every Prometheus metric the realm exports, in one place.

Names and labels are a contract with the Grafana dashboards and alert rules in the Helm
chart (and docs/metrics.md): change one and the dashboard test fails. Labels are always
`realm`, then `region` and `server` where they apply, so one dashboard variable set
filters everything.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

_TICK_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.025,
    0.035,
    0.05,
    0.075,
    0.1,
    0.25,
)
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_WAIT_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

# --- region servers: the tick loop -------------------------------------------------
TICK_DURATION = Histogram(
    "realm_tick_duration_seconds",
    "Wall time of one simulation tick.",
    ["realm", "region", "server"],
    buckets=_TICK_BUCKETS,
    registry=REGISTRY,
)
TICK_RATE = Gauge(
    "realm_tick_rate_hz",
    "Ticks completed per second, measured over the last second.",
    ["realm", "region", "server"],
    registry=REGISTRY,
)
TICK_TARGET = Gauge(
    "realm_tick_target_hz",
    "The tick rate the server is configured to hold.",
    ["realm", "region", "server"],
    registry=REGISTRY,
)
TICK_OVERRUNS = Counter(
    "realm_tick_overruns_total",
    "Ticks that took longer than the tick budget.",
    ["realm", "region", "server"],
    registry=REGISTRY,
)
TICKS = Counter(
    "realm_ticks_total",
    "Ticks simulated.",
    ["realm", "region", "server"],
    registry=REGISTRY,
)
PLAYERS = Gauge(
    "realm_players",
    "Players in the world on this server.",
    ["realm", "region", "server"],
    registry=REGISTRY,
)
ENTITIES = Gauge(
    "realm_entities",
    "Entities (players and NPCs) simulated on this server.",
    ["realm", "region", "server"],
    registry=REGISTRY,
)
SERVER_CAPACITY = Gauge(
    "realm_server_capacity",
    "Players this server accepts.",
    ["realm", "region", "server"],
    registry=REGISTRY,
)
ANTICHEAT_DETECTIONS = Counter(
    "realm_anticheat_detections_total",
    "Movement or protocol cheats detected, by kind.",
    ["realm", "region", "server", "kind"],
    registry=REGISTRY,
)
HANDOFFS = Counter(
    "realm_handoffs_total",
    "Players handed from one region server to another.",
    ["realm", "region", "reason"],
    registry=REGISTRY,
)
HANDOFF_DURATION = Histogram(
    "realm_handoff_duration_seconds",
    "From handoff start to the player simulated on the target.",
    ["realm", "region"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)

# --- network edge (RCM) ------------------------------------------------------------
PACKETS_IN = Counter(
    "realm_packets_received_total",
    "Datagrams received from clients.",
    ["realm", "server"],
    registry=REGISTRY,
)
PACKETS_OUT = Counter(
    "realm_packets_sent_total",
    "Datagrams sent to clients.",
    ["realm", "server"],
    registry=REGISTRY,
)
BYTES_IN = Counter(
    "realm_bytes_received_total",
    "Bytes received from clients.",
    ["realm", "server"],
    registry=REGISTRY,
)
BYTES_OUT = Counter(
    "realm_bytes_sent_total",
    "Bytes sent to clients.",
    ["realm", "server"],
    registry=REGISTRY,
)
PACKETS_DROPPED = Counter(
    "realm_packets_dropped_total",
    "Datagrams dropped, by reason (malformed, replayed, ...).",
    ["realm", "server", "reason"],
    registry=REGISTRY,
)
CONNECTIONS = Gauge(
    "realm_connections",
    "Client connections the RCM holds.",
    ["realm", "server"],
    registry=REGISTRY,
)

# --- gateway: logins and the queue ------------------------------------------------
LOGINS = Counter(
    "realm_logins_total",
    "Login attempts, by result.",
    ["realm", "result"],
    registry=REGISTRY,
)
SIGNUPS = Counter(
    "realm_signups_total",
    "Account creations, by result.",
    ["realm", "result"],
    registry=REGISTRY,
)
LOGIN_QUEUE_LENGTH = Gauge(
    "realm_login_queue_length",
    "Players waiting in the login queue.",
    ["realm"],
    registry=REGISTRY,
)
LOGIN_ADMISSIONS = Counter(
    "realm_login_admissions_total",
    "Players admitted from the login queue, by path.",
    ["realm", "path"],
    registry=REGISTRY,
)
LOGIN_QUEUE_WAIT = Histogram(
    "realm_login_queue_wait_seconds",
    "Time a player waited in the queue before admission.",
    ["realm"],
    buckets=_WAIT_BUCKETS,
    registry=REGISTRY,
)
REALM_CAPACITY = Gauge(
    "realm_capacity_ready",
    "Players the realm can admit: Ready servers' capacity, capped by the realm limit.",
    ["realm"],
    registry=REGISTRY,
)
ONLINE_PLAYERS = Gauge(
    "realm_online_players",
    "Players admitted to the realm (in the world or selecting a character).",
    ["realm"],
    registry=REGISTRY,
)

# --- storage ------------------------------------------------------------------------
STORAGE_LATENCY = Histogram(
    "realm_storage_operation_seconds",
    "Latency of storage operations, by backend and operation.",
    ["realm", "backend", "operation"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
CHARACTER_SAVES = Counter(
    "realm_character_saves_total",
    "Character saves, by reason (checkpoint, logout, handoff, shutdown).",
    ["realm", "reason"],
    registry=REGISTRY,
)

# --- realm-wide actions (RWAM) -----------------------------------------------------
RWAM_ACTIONS = Counter(
    "realm_rwam_actions_total",
    "Realm-wide actions (mail, auction, chat, party, guild...), by operation and result code.",
    ["realm", "op", "result"],
    registry=REGISTRY,
)
ECONOMY_TRANSACTIONS = Counter(
    "realm_economy_transactions_total",
    "Committed transactions that moved a character's gold or items.",
    ["realm"],
    registry=REGISTRY,
)
CHAT_MESSAGES = Counter(
    "realm_chat_messages_total",
    "Chat messages delivered, by channel kind (say, yell, whisper, party, guild...).",
    ["realm", "channel"],
    registry=REGISTRY,
)
ECONOMY_EXPIRED = Counter(
    "realm_economy_expired_total",
    "Mail returned or deleted and auctions closed by the expiry timer.",
    ["realm", "kind"],
    registry=REGISTRY,
)

# --- operator -----------------------------------------------------------------------
OPERATOR_RECONCILES = Counter(
    "realm_operator_reconciles_total",
    "Operator reconcile passes, by resource kind and result.",
    ["realm", "kind", "result"],
    registry=REGISTRY,
)
OPERATOR_SCALE_EVENTS = Counter(
    "realm_operator_scale_events_total",
    "Scale decisions carried out, by direction and reason.",
    ["realm", "region", "direction", "reason"],
    registry=REGISTRY,
)
DESIRED_SERVERS = Gauge(
    "realm_region_desired_servers",
    "Servers the scaling policy asks for.",
    ["realm", "region"],
    registry=REGISTRY,
)
REGION_SERVERS = Gauge(
    "realm_region_servers",
    "Region server pods the operator manages, by state (Starting, Ready, Draining): "
    "the actual side of desired vs actual.",
    ["realm", "region", "state"],
    registry=REGISTRY,
)
