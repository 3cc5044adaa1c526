"""Encryption of secret values at rest: AES-256-GCM under a key kept outside the database.

A :class:`SecretBox` holds a *key ring*: the first key seals new values, every key opens the
values sealed under it (so a key can be rotated without a moment where some rows cannot be
read). Each sealed value records the id of its key (the first 16 hex digits of the key's
SHA-256: it names the key without revealing anything about it).

The associated data of every value is its tenant id and name: a sealed value copied into
another row (another tenant's, another name's) fails to open instead of leaking. Opening a
value that was tampered with, or sealed under a key the ring lacks, raises
:class:`SecretKeyError` with a message for people; the value itself never appears in a
message.

Where the ring comes from (:func:`load_key_ring`): ``JOBPLAN_SECRETS_KEY`` (one or more
base64 keys separated by commas, the current one first), else ``<home>/secrets.key`` (one key
per line, the current one first), made on first use with mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jobplan.errors import InvalidInput, JobplanError

__all__ = [
    "KEY_FILE",
    "KEY_VARIABLE",
    "Sealed",
    "SecretBox",
    "SecretKeyError",
    "key_id_of",
    "load_key_ring",
    "new_key",
    "parse_key",
    "write_key_file",
]

KEY_FILE = "secrets.key"
KEY_VARIABLE = "JOBPLAN_SECRETS_KEY"
_FORMAT = b"\x01"
_NONCE = 12
_AAD = b"jobplan-secret-v1"


class SecretKeyError(JobplanError):
    """A sealed value cannot be opened: its key is not in the ring, or it was altered."""


@dataclass(frozen=True, slots=True)
class Sealed:
    """A value sealed for a row: ``key_id`` names the key, ``data`` is format, nonce and
    ciphertext with its tag."""

    key_id: str
    data: bytes


def new_key() -> str:
    """A new random key, as the base64 text ``JOBPLAN_SECRETS_KEY`` and the key file hold."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def parse_key(text: str, where: str) -> bytes:
    """The 32 bytes of a base64 key (standard or URL-safe alphabet); :class:`InvalidInput`
    naming ``where`` otherwise."""
    cleaned = text.strip()
    try:
        raw = base64.urlsafe_b64decode(cleaned.replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise InvalidInput(
            "a secrets key is 32 random bytes in base64 (44 characters); make one with "
            "'jobplan secrets new-key'",
            field=where,
        )
    return raw


def key_id_of(key: bytes) -> str:
    return hashlib.sha256(b"jobplan-secrets-key-id\0" + key).hexdigest()[:16]


def _aad(tenant_id: str, name: str) -> bytes:
    return b"\0".join((_AAD, tenant_id.encode(), name.encode()))


class SecretBox:
    """Seals and opens secret values with a key ring (the first key seals)."""

    def __init__(
        self, keys: Sequence[bytes], *, source: str = KEY_VARIABLE, path: Path | None = None
    ) -> None:
        """``path``: the key file the ring was read from; it is read again before each seal
        and when a value names a key the ring lacks, so a rotation of the file
        (``jobplan secrets rotate-key``) reaches a running server without a restart."""
        self._path = path
        self.source = source
        """Where the ring came from, for messages (the variable or the key file's path)."""
        self._use(keys)

    def _use(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        self._keys = {key_id_of(key): AESGCM(key) for key in keys}
        self._current = key_id_of(keys[0])

    def _reload(self) -> None:
        if self._path is not None:
            with suppress(OSError, InvalidInput):
                self._use(_read_key_file(self._path))

    @property
    def current_key_id(self) -> str:
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def seal(self, tenant_id: str, name: str, value: str) -> Sealed:
        self._reload()
        nonce = os.urandom(_NONCE)
        data = self._keys[self._current].encrypt(nonce, value.encode(), _aad(tenant_id, name))
        return Sealed(self._current, _FORMAT + nonce + data)

    def open(self, tenant_id: str, name: str, sealed: Sealed) -> str:
        aead = self._keys.get(sealed.key_id)
        if aead is None:
            self._reload()
            aead = self._keys.get(sealed.key_id)
        if aead is None:
            raise SecretKeyError(
                f"secret {name!r} was encrypted with key {sealed.key_id}, which this node "
                f"does not have ({self.source} holds {', '.join(self._keys)}): every node "
                "needs the same secrets key"
            )
        data = sealed.data
        if data[:1] != _FORMAT or len(data) < 1 + _NONCE + 16:
            raise SecretKeyError(f"secret {name!r} is not in a format this version reads")
        try:
            plain = aead.decrypt(data[1 : 1 + _NONCE], data[1 + _NONCE :], _aad(tenant_id, name))
        except InvalidTag:
            raise SecretKeyError(
                f"secret {name!r} does not decrypt: it was altered or moved from another row"
            ) from None
        return plain.decode()


def load_key_ring(home: Path, configured: str | None) -> SecretBox:
    """The ring from ``configured`` (``JOBPLAN_SECRETS_KEY``: keys separated by commas, the
    current one first) if set, else from ``<home>/secrets.key``, made on first use (0600)."""
    if configured and configured.strip():
        keys = [parse_key(part, KEY_VARIABLE) for part in configured.split(",") if part.strip()]
        return SecretBox(keys, source=KEY_VARIABLE)
    path = home / KEY_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(new_key() + "\n")
    return SecretBox(_read_key_file(path), source=str(path), path=path)


def _read_key_file(path: Path) -> list[bytes]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise InvalidInput(f"{path} holds no key", field=KEY_FILE)
    return [parse_key(line, str(path)) for line in lines]


def write_key_file(home: Path, keys: Sequence[str]) -> Path:
    """Replace ``<home>/secrets.key`` with ``keys`` (base64, the current one first), atomically
    and readable by its owner only."""
    path = home / KEY_FILE
    temporary = home / f".{KEY_FILE}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(f"{key}\n" for key in keys))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return path
