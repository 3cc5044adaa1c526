"""Tests hash passwords cheaply (their fixtures lower the argon2 cost); this is where the
production cost is held: a server configured with nothing hashes with argon2id at the OWASP
minimum (19 MiB, two passes), and a lower cost comes only from explicit settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2.exceptions import HashingError
from pydantic import ValidationError

from jobplan.service.security import PasswordHasher
from jobplan.settings import Settings


def test_the_default_cost_is_the_owasp_minimum(tmp_path: Path) -> None:
    hashed = PasswordHasher(Settings(home=tmp_path)).hash("a-password-123")  # type: ignore[arg-type]
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), hashed


def test_a_cost_below_the_floor_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="argon2_memory_kib"):
        Settings(home=tmp_path, argon2_memory_kib=512)  # type: ignore[arg-type]


def test_nothing_is_hashed_until_a_password_is_checked(tmp_path: Path) -> None:
    """A server's start builds the hasher but hashes nothing (the argon2 hash unknown users
    are checked against is made by the first check, for a known user too, so both cost the
    same). Shown with a cost argon2 refuses: building succeeds, the first check fails."""
    refused = Settings(home=tmp_path).model_copy(update={"argon2_time_cost": 0})  # type: ignore[arg-type]
    stored = PasswordHasher(Settings(home=tmp_path)).hash("a-password-123")  # type: ignore[arg-type]
    for password_hash in (None, stored):
        hasher = PasswordHasher(refused)
        with pytest.raises(HashingError, match="Time cost is too small"):
            hasher.verify("a-password-123", password_hash)
