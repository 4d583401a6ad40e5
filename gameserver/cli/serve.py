"""`realm serve <role>`: run one component of a distributed realm.

This is the contract the Kubernetes operator's manifests rely on
(operator/realm_operator/builders.py): `args: ["serve", role]`, configuration in `REALM_*`
environment variables (flags override them), /healthz and /metrics on
`REALM_METRICS_PORT`, and a clean stop on SIGTERM. Each role's composition root is in
`gameserver/roles/`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from gameserver.config import RealmSettings
from gameserver.roles.runtime import RoleConfigError, run_role
from gameserver.storage.interfaces import StorageError

HELP = (
    "Run one role of a distributed realm (gateway, rcm, oem, rwam or region) as this "
    "process, configured by REALM_* environment variables or the flags below; serves "
    "/healthz and /metrics on the metrics port; SIGTERM stops it cleanly (a region server "
    "saves every character first)."
)


class Role(enum.StrEnum):
    GATEWAY = "gateway"
    RCM = "rcm"
    OEM = "oem"
    RWAM = "rwam"
    REGION = "region"


def serve(
    role: Annotated[Role, typer.Argument(help="Which component to run.")],
    name: Annotated[str | None, typer.Option(help="Realm name [REALM_NAME].")] = None,
    host: Annotated[str | None, typer.Option(help="Bind address [REALM_HOST].")] = None,
    postgres: Annotated[
        str | None, typer.Option(help="PostgreSQL URL [REALM_POSTGRES_URL].")
    ] = None,
    redis: Annotated[str | None, typer.Option(help="Redis URL [REALM_REDIS_URL].")] = None,
    grpc_port: Annotated[
        int | None, typer.Option(help="gRPC port [REALM_GRPC_PORT=50051].")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="/healthz and /metrics port [REALM_METRICS_PORT=9100].")
    ] = None,
    http_port: Annotated[
        int | None, typer.Option(help="gateway HTTP port [REALM_HTTP_PORT=8080].")
    ] = None,
    udp_port: Annotated[
        int | None, typer.Option(help="rcm UDP port [REALM_UDP_PORT=7777].")
    ] = None,
    oem_address: Annotated[
        str | None, typer.Option(help="OEM host:port [REALM_OEM_ADDRESS].")
    ] = None,
    rwam_address: Annotated[
        str | None, typer.Option(help="RWAM host:port [REALM_RWAM_ADDRESS].")
    ] = None,
    region: Annotated[str | None, typer.Option(help="region: map region [REALM_REGION].")] = None,
    server_id: Annotated[
        str | None, typer.Option(help="region: server id [REALM_SERVER_ID].")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML config file.", exists=True, dir_okay=False)
    ] = None,
    log_level: Annotated[str, typer.Option(help="Python log level.")] = "INFO",
) -> None:
    logging.basicConfig(
        level=log_level.upper(),
        format=f"%(asctime)s %(levelname)s {role.value} %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = RealmSettings.load(
            config,
            name=name,
            host=host,
            postgres_url=postgres,
            redis_url=redis,
            grpc_port=grpc_port,
            metrics_port=metrics_port,
            http_port=http_port,
            udp_port=udp_port,
            oem_address=oem_address,
            rwam_address=rwam_address,
            region=region,
            server_id=server_id,
        )
    except ValidationError as e:
        print(f"realm serve: error: {RealmSettings.describe_error(e)}", file=sys.stderr)
        raise typer.Exit(2) from None
    from gameserver.roles import gateway, oem, rcm, rwam
    from gameserver.roles import region as region_role

    start = {
        Role.GATEWAY: gateway.start,
        Role.RCM: rcm.start,
        Role.OEM: oem.start,
        Role.RWAM: rwam.start,
        Role.REGION: region_role.start,
    }[role]
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - Windows
        pass
    try:
        asyncio.run(run_role(role.value, settings, start))
    except RoleConfigError as e:
        print(f"realm serve {role.value}: error: {e}", file=sys.stderr)
        raise typer.Exit(2) from None
    except StorageError as e:
        print(f"realm serve {role.value}: error: {e}", file=sys.stderr)
        raise typer.Exit(1) from None
    except OSError as e:
        print(f"realm serve {role.value}: error: cannot open a port: {e}", file=sys.stderr)
        raise typer.Exit(1) from None
