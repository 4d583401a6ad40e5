"""Accounts and login: the gateway's protocol core, with no HTTP in it.

Passwords are hashed with argon2id (argon2-cffi) off the event loop, since a hash costs
tens of milliseconds by design. A successful login yields a sealed, expiring login token
that carries a fresh session key: the client opens its UDP connection to the RCM with the
token, and the RCM learns the key by opening the token with the realm's token key, without
calling back to the gateway.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gameserver import metrics
from gameserver.clock import wall_ms
from gameserver.storage.interfaces import AccountStore, Conflict
from gameserver.storage.models import Account
from gameserver.wire.token import LoginToken, TokenSealer

USERNAME_RE = re.compile(r"^[a-z0-9_]{3,32}$")
PASSWORD_MIN, PASSWORD_MAX = 8, 128


class AccountError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True, slots=True)
class LoginGrant:
    account_id: int
    conn_id: int
    token: bytes
    session_key: bytes
    expires_at_ms: int


class AccountService:
    def __init__(
        self,
        realm: str,
        store: AccountStore,
        sealer: TokenSealer,
        *,
        token_ttl_ms: int = 60_000,
        time_cost: int = 2,
        memory_kib: int = 19456,
    ) -> None:
        self.realm = realm
        self.store = store
        self.sealer = sealer
        self.token_ttl_ms = token_ttl_ms
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        # A hash to verify against when the account does not exist, so a wrong username
        # costs as much time as a wrong password (no user enumeration by timing).
        self._dummy_hash = self.hasher.hash(secrets.token_hex(16))

    @staticmethod
    def normalise_username(raw: str) -> str:
        return raw.strip().lower()

    async def signup(self, username: str, password: str) -> Account:
        name = self.normalise_username(username)
        if not USERNAME_RE.match(name):
            metrics.SIGNUPS.labels(self.realm, "invalid").inc()
            raise AccountError("bad_username", "usernames are 3-32 characters: a-z, 0-9 and _")
        if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
            metrics.SIGNUPS.labels(self.realm, "invalid").inc()
            raise AccountError(
                "bad_password", f"passwords are {PASSWORD_MIN}-{PASSWORD_MAX} characters long"
            )
        hashed = await asyncio.to_thread(self.hasher.hash, password)
        try:
            account = await self.store.create_account(name, hashed)
        except Conflict as e:
            metrics.SIGNUPS.labels(self.realm, "taken").inc()
            raise AccountError("username_taken", "that username is taken", status=409) from e
        metrics.SIGNUPS.labels(self.realm, "ok").inc()
        return account

    async def check_credentials(self, username: str, password: str) -> Account:
        account = await self.store.get_account_by_name(self.normalise_username(username))
        hashed = account.password_hash if account else self._dummy_hash
        try:
            await asyncio.to_thread(self.hasher.verify, hashed, password)
        except (VerificationError, InvalidHashError):
            account = None
        if account is None:
            metrics.LOGINS.labels(self.realm, "bad_credentials").inc()
            raise AccountError("bad_credentials", "wrong username or password", status=401)
        if account.banned:
            metrics.LOGINS.labels(self.realm, "banned").inc()
            raise AccountError("banned", "this account is banned", status=403)
        return account

    def grant(self, account: Account) -> LoginGrant:
        session_key = secrets.token_bytes(32)
        conn_id = secrets.randbelow(2**32 - 1) + 1
        expires = wall_ms() + self.token_ttl_ms
        token = self.sealer.seal(LoginToken(account.id, conn_id, session_key, expires))
        metrics.LOGINS.labels(self.realm, "ok").inc()
        return LoginGrant(account.id, conn_id, token, session_key, expires)
