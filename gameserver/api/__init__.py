"""The service boundaries of the realm, as Protocols.

Each service (RWAM, OEM, region server, RCM) is called only through these. The embedded
realm passes the service objects themselves (in-process calls); a distributed realm passes
gRPC clients (`gameserver/rpc/`) that implement the same Protocols. The dataclasses here
are what crosses a boundary, so both transports carry exactly the same information.
"""
