"""The gRPC transport of a distributed realm.

Every service boundary in `gameserver/api/` has two transports: the service object itself
(in-process, the embedded realm) and the pair here, a grpc.aio server wrapping the service
object and a client implementing the same Protocol. Callers cannot tell them apart: domain
errors (`OemError`, `CharacterRuleError`) cross as gRPC status plus metadata and are raised
again on the client; a peer that is down or too slow raises `ServiceUnavailable` within the
call's deadline, never hangs.

Messages are protobuf (`realm.proto`), not FlatBuffers: see docs/architecture.md. The hot
path, `Region.Link`, carries the FlatBuffers bytes of inputs and snapshots unchanged.
"""
