"""One composition root per role of a distributed realm (`realm serve <role>`).

Each module builds one service with its real storage and gRPC clients for its peers, and
returns a `Running` role; `gameserver/roles/runtime.py` gives every role the same process
shell (signals, /healthz and /metrics, ordered shutdown). The embedded realm
(`gameserver/embedded/realm.py`) is the other composition root: the same service objects,
wired in-process.
"""
