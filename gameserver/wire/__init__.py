"""The client <-> RCM <-> region wire layer, sans-I/O.

Modules, bottom up: `errors` (WireError, Drop), `structs` (numpy mirrors of the schema's
structs), `messages` (typed messages and the FlatBuffers codec), `datagram` (framing,
AEAD, replay window), `token` (login tokens), `reliable` (acks and resends),
`connection` (one peer's state, used by both the RCM and the client), `codegen`
(regenerating `fb/` from `schema/realm.fbs`). `fb/` is generated: never edit it by hand.
"""
