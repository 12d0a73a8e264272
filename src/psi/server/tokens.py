"""Bearer tokens for `psi serve`: issued once, kept only as a scrypt hash.

    tokens = Tokens(store)
    plain = tokens.issue(user_id, label="laptop")      # psi_3fa9c1d2_<secret>: shown once
    tokens.verify(plain)                              # the user id, or None
    tokens.revoke(token_id, user_id=...)

A token is `psi_` + an 8-character public prefix + `_` + a 32-byte secret. The prefix
finds the row; scrypt (hashlib, n=2**14, r=8) of the whole token with the row's salt
must match its digest. Verifying costs tens of milliseconds, so a process remembers the
tokens it has verified (by their SHA-256) until they are revoked here or a minute passes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from psi.clock import Clock, system_clock
from psi.errors import InputError, NotFound
from psi.store.db import Store
from psi.store.models import ApiToken

_FORM = re.compile(r"^psi_([0-9a-f]{8})_[A-Za-z0-9_-]{20,}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
CACHE_SECONDS = 60.0


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _digest(token: str, salt: bytes) -> bytes:
    return hashlib.scrypt(token.encode("utf-8"), salt=salt, **_SCRYPT)


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user_id: int
    label: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class Tokens:
    def __init__(self, store: Store, *, clock: Clock = system_clock) -> None:
        self.store = store
        self.clock = clock
        self._seen: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def issue(self, user_id: int, *, label: str = "default") -> str:
        """A new token for the user; the only time its text exists."""
        prefix = secrets.token_hex(4)
        token = f"psi_{prefix}_{secrets.token_urlsafe(32)}"
        salt = secrets.token_bytes(16)
        row = ApiToken(
            user_id=user_id,
            label=label[:100],
            prefix=prefix,
            salt=salt,
            digest=_digest(token, salt),
            created_at=self.clock(),
        )
        with self.store.session() as session:
            session.add(row)
        return token

    def remembered(self, token: str) -> int | None:
        """The user of a token this process verified in the last CACHE_SECONDS, or None
        (then `verify` tells). No I/O: an event loop may ask."""
        seen = self._seen.get(_key(token))
        if seen is not None and time.monotonic() - seen[1] < CACHE_SECONDS:
            return seen[0]
        return None

    def verify(self, token: str) -> int | None:
        """The user the token belongs to, or None (unknown, malformed or revoked)."""
        form = _FORM.match(token.strip())
        if form is None:
            return None
        known = self.remembered(token)
        if known is not None:
            return known
        now = time.monotonic()
        with self.store.session() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.prefix == form.group(1)))
            if row is None or row.revoked_at is not None:
                return None
            if not hmac.compare_digest(row.digest, _digest(token, row.salt)):
                return None
            row.last_used_at = self.clock()
            user_id = row.user_id
        with self._lock:
            self._seen[_key(token)] = (user_id, now)
        return user_id

    def list(self, user_id: int | None = None) -> list[TokenInfo]:
        query = select(ApiToken).order_by(ApiToken.id)
        if user_id is not None:
            query = query.where(ApiToken.user_id == user_id)
        with self.store.session() as session:
            return [
                TokenInfo(
                    r.id, r.user_id, r.label, r.prefix, r.created_at, r.last_used_at, r.revoked_at
                )
                for r in session.scalars(query)
            ]

    def revoke(self, token_id: int, *, user_id: int | None = None) -> None:
        """Revoke one token (of `user_id`, when given); NotFound otherwise."""
        with self.store.session() as session:
            row = session.get(ApiToken, token_id)
            if row is None or (user_id is not None and row.user_id != user_id):
                raise NotFound(f"No token {token_id}.", hint="`psi user tokens` lists them.")
            if row.revoked_at is None:
                row.revoked_at = self.clock()
        with self._lock:
            self._seen.clear()

    def revoke_all(self, user_id: int) -> int:
        with self.store.session() as session:
            result = session.execute(
                update(ApiToken)
                .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=self.clock())
            )
        with self._lock:
            self._seen.clear()
        return int(getattr(result, "rowcount", 0) or 0)

    def rotate(self, user_id: int, *, label: str = "default") -> str:
        """Revoke the user's tokens and issue a new one."""
        self.revoke_all(user_id)
        return self.issue(user_id, label=label)


def check_name(name: str) -> str:
    name = name.strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
        raise InputError(
            f"{name!r} is no user name psi takes.",
            hint="Use letters, digits, dots, dashes or underscores (up to 64), like ada or ada.l.",
        )
    return name
