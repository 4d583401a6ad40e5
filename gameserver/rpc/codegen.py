"""Generate the gRPC Python code from `gameserver/rpc/realm.proto` with grpcio-tools.

Like the wire schema (`gameserver/wire/codegen.py`), the proto is the one source of truth
and generated code that lags behind it is a silent protocol bug between processes. So
generation is a function (`realm dev gen-rpc` calls it) and `is_fresh()` regenerates into
a temporary directory and compares byte for byte; a test fails when the checked-in code is
stale.

protoc writes `realm_pb2.py`, `realm_pb2.pyi` and `realm_pb2_grpc.py`. The last one is
untyped, so this module also writes `realm_pb2_grpc.pyi` from the file's descriptor:
servicer methods with their request and response types, so `mypy --strict` checks every
servicer override and stub call against the proto. Every generated file starts with a
header that keeps linters and the type checker out of it (the stubs are what mypy reads).
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

__all__ = ["GENERATED", "PROTO", "RPC_DIR", "CodegenError", "generate", "is_fresh", "render"]

RPC_DIR = Path(__file__).resolve().parent
PROTO = RPC_DIR / "realm.proto"
_RELATIVE = Path("gameserver") / "rpc"
GENERATED = ("realm_pb2.py", "realm_pb2.pyi", "realm_pb2_grpc.py", "realm_pb2_grpc.pyi")

HEADER = (
    "# ruff: noqa\n"
    "# mypy: ignore-errors\n"
    "# Generated from gameserver/rpc/realm.proto by `realm dev gen-rpc`. DO NOT EDIT.\n"
)


class CodegenError(RuntimeError):
    """grpcio-tools is missing or protoc failed."""


def _protoc(out: Path) -> None:
    if importlib.util.find_spec("grpc_tools") is None:
        raise CodegenError("grpcio-tools is not installed: pip install 'openrealm[test]'")
    from grpc_tools import protoc

    root = RPC_DIR.parent.parent  # the directory holding the `gameserver` package
    include = Path(protoc.__file__).resolve().parent / "_proto"
    rc = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{root}",
            f"-I{include}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            str(_RELATIVE / PROTO.name),
        ]
    )
    if rc != 0:
        raise CodegenError(f"protoc failed with exit code {rc} on {PROTO}")


def _servicer_stub() -> str:
    """A typed `.pyi` for `realm_pb2_grpc.py`, built from the proto's services."""
    from google.protobuf import descriptor_pb2

    # Parse the descriptor protoc just produced, not the imported (possibly stale) module.
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory(prefix="openrealm-desc-") as tmp:
        out = Path(tmp) / "d.pb"
        root = RPC_DIR.parent.parent
        rc = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{root}",
                f"--descriptor_set_out={out}",
                str(_RELATIVE / PROTO.name),
            ]
        )
        if rc != 0:
            raise CodegenError(f"protoc failed with exit code {rc} on {PROTO}")
        fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    fd = fds.file[0]
    prefix = f".{fd.package}."
    lines = [
        HEADER.rstrip("\n"),
        "from collections.abc import AsyncIterator",
        "from typing import Any",
        "",
        "from gameserver.rpc import realm_pb2",
        "",
    ]

    def ty(name: str) -> str:
        return "realm_pb2." + name.removeprefix(prefix)

    for svc in fd.service:
        lines += ["", f"class {svc.name}Stub:", "    def __init__(self, channel: Any) -> None: ..."]
        for m in svc.method:
            lines.append(f"    {m.name}: Any")
        lines += ["", f"class {svc.name}Servicer:"]
        for m in svc.method:
            req = ty(m.input_type)
            resp = ty(m.output_type)
            arg = f"request: {req}"
            if m.client_streaming:
                arg = f"request_iterator: AsyncIterator[{req}]"
            if m.server_streaming:
                lines.append(
                    f"    def {m.name}(self, {arg}, context: Any) -> AsyncIterator[{resp}]: ..."
                )
            else:
                lines.append(f"    async def {m.name}(self, {arg}, context: Any) -> {resp}: ...")
        lines += [
            "",
            f"def add_{svc.name}Servicer_to_server(servicer: {svc.name}Servicer, server: Any)"
            " -> None: ...",
        ]
    return "\n".join(lines) + "\n"


def render() -> dict[str, bytes]:
    """The generated files (name -> content) for the proto as it is now."""
    with tempfile.TemporaryDirectory(prefix="openrealm-protoc-") as tmp:
        _protoc(Path(tmp))
        produced = Path(tmp) / _RELATIVE
        files = {
            name: HEADER.encode() + (produced / name).read_bytes()
            for name in GENERATED
            if name != "realm_pb2_grpc.pyi"
        }
    files["realm_pb2_grpc.pyi"] = _servicer_stub().encode()
    return files


def generate(out_root: Path) -> list[Path]:
    """Write the generated files under `<out_root>/gameserver/rpc/`; returns their paths."""
    dest = Path(out_root) / _RELATIVE
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in render().items():
        (dest / name).write_bytes(content)
        written.append(dest / name)
    return written


def is_fresh(rpc_dir: Path = RPC_DIR) -> bool:
    """Does `rpc_dir` hold exactly what protoc generates from the proto now?"""
    for name, content in render().items():
        path = Path(rpc_dir) / name
        if not path.is_file() or path.read_bytes() != content:
            return False
    return True
