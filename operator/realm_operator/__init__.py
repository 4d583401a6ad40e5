"""The openrealm Kubernetes operator (import package `realm_operator`).

It lives in the `operator/` folder but is never imported as `operator`: that name belongs
to the standard library. pyproject.toml maps the folder's `realm_operator/` here.
"""
