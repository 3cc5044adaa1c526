"""Secrets: password hashing (argon2), token hashing, random secrets, JWT signing keys."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from jobplan.errors import InvalidInput
from jobplan.settings import Settings

__all__ = [
    "PasswordHasher",
    "constant_time_equal",
    "load_or_create_signing_key",
    "new_secret",
    "sha256_hex",
]


class PasswordHasher:
    """argon2id password hashing with the cost from :class:`Settings`.

    Hashes embed their parameters, so raising the cost later still verifies old hashes.
    """

    def __init__(self, settings: Settings) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    memory_cost=settings.argon2_memory_kib,
                    time_cost=settings.argon2_time_cost,
                    parallelism=settings.argon2_parallelism,
                ),
            )
        )
        # Verifying against this for unknown users keeps their timing equal to known ones.
        # Made by the first verify (known user or not: both then cost the same), not here:
        # a server's start hashes nothing unless it creates the first admin.
        self._dummy: str | None = None
        self._dummy_made = threading.Lock()
        # argon2 is deliberately expensive: a login flood must not take every worker thread
        self._slots = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))

    def hash(self, password: str) -> str:
        """A salted argon2id hash of ``password``."""
        with self._slots:
            return self._hash.hash(password)

    def verify(self, password: str, password_hash: str | None) -> bool:
        """Check ``password``; with no hash, spend the same time and answer ``False``."""
        dummy = self._dummy_hash()
        with self._slots:
            if password_hash is None:
                self._hash.verify(password, dummy)
                return False
            try:
                return self._hash.verify(password, password_hash)
            except Exception:  # a corrupt stored hash must not become a 500
                return False

    def _dummy_hash(self) -> str:
        with self._dummy_made:
            if self._dummy is None:
                self._dummy = self.hash(secrets.token_urlsafe(16))
            return self._dummy


def new_secret(nbytes: int = 32) -> str:
    """A URL-safe random secret."""
    return secrets.token_urlsafe(nbytes)


def sha256_hex(secret: str) -> str:
    """Hash of a high-entropy secret (API keys, refresh tokens).

    These secrets carry 256 random bits, so a fast hash is as safe as argon2 against guessing
    and keeps per-request authentication cheap.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def load_or_create_signing_key(home: Path, configured: str | None) -> bytes:
    """The JWT signing key: ``configured`` if set, else ``<home>/secret.key`` (made on first
    start, readable by the owner only)."""
    if configured:
        if len(configured) < 32:
            raise InvalidInput("must be at least 32 characters", field="JOBPLAN_SECRET_KEY")
        return configured.encode()
    path = home / "secret.key"
    if path.exists():
        return path.read_bytes().strip()
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(64).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key
