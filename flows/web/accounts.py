"""Signed-in people: password hashes, the signed session cookie and CSRF tokens.

Plain functions and one small class, no framework: the hash is scrypt with a random
salt in a self-describing string (``scrypt$N$r$p$salt$hash``, what ``web.users`` holds);
the session cookie is ``payload.signature`` with an HMAC-SHA256 over the payload made
with ``web.secret_key``; a CSRF token is an HMAC of the session's own random nonce, so
it is worthless outside the browser that holds that session. ``SignInLimiter`` counts
failed sign-ins per name and per client address, in memory, to stop password guessing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.clock import utcnow

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD_CHARS = 8
COOKIE_NAME = "newswatch_session"
SESSION_SECONDS = 12 * 3600  # a working day: sign in again the next morning
FAILED_SIGN_INS_ALLOWED = 5  # per name
# Per client address: higher, because behind a proxy without trust_proxy_headers a whole
# desk shares one address, and a few typos must not lock everyone out.
FAILED_SIGN_INS_PER_ADDRESS = 30
FAILED_SIGN_IN_WINDOW = timedelta(minutes=15)
CONCURRENT_PASSWORD_CHECKS = 2  # scrypt is ~50 ms of CPU: guessing must not fill the thread pool
_MAX_TRACKED_KEYS = 10_000  # names and addresses remembered at once (least recently failed go first)


class SignInSetupError(Exception):
    """Sign-in is configured in a way the app refuses to run with; the message says the fix."""


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=HASH_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` hashes to ``stored`` (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        found = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt, validate=True),
            n=int(n), r=int(r), p=int(p), dklen=len(expected), maxmem=2**26,
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(found, expected)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# Checked when the name is unknown, so a wrong name takes as long as a wrong password.
_DECOY_HASH = hash_password(secrets.token_urlsafe(16))


def _urlsafe(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unurlsafe(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    """What the cookie carries: who (None before signing in) and the CSRF nonce."""

    user: str | None
    nonce: str
    expires: int


class SignInLimiter:
    """Failed sign-ins per name and per client address over a sliding window, in memory.

    After ``allowed`` failures within ``window`` for a name (``allowed_per_address`` from one
    address), further
    attempts are refused until the oldest of them leaves the window. One process only:
    a restart forgets the counts, which is acceptable for a desk's web app.
    """

    def __init__(self, clock: Callable[[], datetime] = utcnow, allowed: int = FAILED_SIGN_INS_ALLOWED,
                 window: timedelta = FAILED_SIGN_IN_WINDOW,
                 allowed_per_address: int = FAILED_SIGN_INS_PER_ADDRESS) -> None:
        self._clock, self.allowed, self.window = clock, allowed, window
        self.allowed_per_address = allowed_per_address
        self._failures: dict[str, list[datetime]] = {}
        self._lock = threading.Lock()

    def refusal(self, name: str, address: str) -> str | None:
        """Why an attempt for ``name`` from ``address`` is refused now, or None to let it through."""
        now = self._clock()
        with self._lock:
            limits = ((_name_key(name), "this name", self.allowed),
                      (_address_key(address), "this address", self.allowed_per_address))
            for key, what, allowed in limits:
                recent = self._recent(key, now)
                if len(recent) >= allowed:
                    wait = recent[-allowed] + self.window - now
                    minutes = max(1, math.ceil(wait.total_seconds() / 60))
                    return (f"Too many failed sign-ins for {what}; try again in {minutes} "
                            f"minute{'' if minutes == 1 else 's'}.")
        return None

    def failed(self, name: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for key in (_name_key(name), _address_key(address)):
                recent = self._recent(key, now)
                self._failures.pop(key, None)  # re-inserted last: the dict is oldest-failure first
                self._failures[key] = [*recent, now]
            while len(self._failures) > _MAX_TRACKED_KEYS:
                del self._failures[next(iter(self._failures))]

    def succeeded(self, name: str) -> None:
        """A right password clears the name's count (not the address's: others may guess from it)."""
        with self._lock:
            self._failures.pop(_name_key(name), None)

    def _recent(self, key: str, now: datetime) -> list[datetime]:
        return [t for t in self._failures.get(key, []) if now - t < self.window]


def _name_key(name: str) -> str:
    return f"name:{name.strip()[:200]}"


def _address_key(address: str) -> str:
    return f"address:{address}"


class Accounts:
    """The configured people, the key that signs their sessions and the sign-in limiter."""

    def __init__(self, users: dict[str, str], secret_key: str | None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        if users and not secret_key:
            raise SignInSetupError(
                "web.users is set but web.secret_key is not: set web.secret_key (or "
                "NEWSWATCH_WEB__SECRET_KEY) to a random string of 32 characters or more, such as "
                "the one `newswatch web add-user` prints"
            )
        self.users = dict(users)
        self._key = (secret_key or "").encode("utf-8")
        self.limiter = SignInLimiter(clock)

    @property
    def enabled(self) -> bool:
        """Writing is possible at all: people are configured."""
        return bool(self.users)

    def check(self, name: str, password: str) -> str | None:
        """The configured name when the password is right, else None."""
        stored = self.users.get(name.strip())
        ok = verify_password(password, stored or _DECOY_HASH)
        return name.strip() if stored is not None and ok else None

    def _sign(self, payload: str) -> str:
        return _urlsafe(hmac.new(self._key, payload.encode("utf-8"), hashlib.sha256).digest())

    def new_session(self, user: str | None, now: float | None = None) -> tuple[Session, str]:
        """A fresh session (a new nonce, so signing in never keeps an old token) and its cookie value."""
        session = Session(user=user, nonce=secrets.token_urlsafe(16),
                          expires=int((now or utcnow().timestamp()) + SESSION_SECONDS))
        payload = _urlsafe(json.dumps([session.user, session.nonce, session.expires]).encode("utf-8"))
        return session, f"{payload}.{self._sign(payload)}"

    def read_session(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session in a cookie this app signed and that has not expired, else None."""
        if not self.enabled or not cookie or len(cookie) > 1000 or "." not in cookie:
            return None
        payload, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature.encode("ascii", "replace"), self._sign(payload).encode("ascii")):
            return None
        try:
            user, nonce, expires = json.loads(_unurlsafe(payload))
        except (ValueError, TypeError, binascii.Error):
            return None
        if not isinstance(nonce, str) or not isinstance(expires, int) or expires < (now or utcnow().timestamp()):
            return None
        if user is not None and user not in self.users:
            return None  # removed from the config since: signed out
        return Session(user=user, nonce=nonce, expires=expires)

    def csrf_token(self, session: Session) -> str:
        return self._sign(f"csrf:{session.nonce}")

    def csrf_ok(self, session: Session | None, token: str | None) -> bool:
        if session is None or not token:
            return False
        return hmac.compare_digest(token.encode("ascii", "replace"), self.csrf_token(session).encode("ascii"))
