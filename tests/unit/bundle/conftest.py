"""Fixtures for the bundle tests: the real Ikasan exports, example plans, zip builders."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobplan.bundle import BundleContents, BundlePlan, read_bundle, write_bundle
from jobplan.model import PlanDocument
from support.data import IKASAN_FIXTURES
from support.zips import make_zip, zip_entries

ROOT = Path(__file__).resolve().parents[3]
IKASAN = IKASAN_FIXTURES
EXAMPLES = ROOT / "docs" / "examples"
STAMP = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture
def ikasan_dir() -> Path:
    """The directory of the real Ikasan exports; missing fixtures fail the test."""
    for name in ("MyFirstJobPlan.zip", "MyFirstJobPlanWithTokens.zip"):
        assert (IKASAN / name).is_file(), f"missing Ikasan fixture {IKASAN / name}"
    return IKASAN


def load_example(name: str) -> PlanDocument:
    """A plan from docs/examples."""
    return PlanDocument.model_validate(yaml.safe_load((EXAMPLES / name).read_text("utf-8")))


@pytest.fixture
def example() -> Callable[[str], PlanDocument]:
    return load_example


def export(plans: list[PlanDocument] | list[BundlePlan], **options: Any) -> bytes:
    """A bundle of ``plans`` as bytes (fixed creation time unless given)."""
    items = [plan if isinstance(plan, BundlePlan) else BundlePlan(plan) for plan in plans]
    out = io.BytesIO()
    options.setdefault("created_at", STAMP)
    options.setdefault("source_tenant", "acme")
    write_bundle(items, out, **options)
    return out.getvalue()


def read(data: bytes, **options: Any) -> BundleContents:
    return read_bundle(io.BytesIO(data), **options)


def rezip(data: bytes, change: Callable[[dict[str, bytes]], None]) -> bytes:
    """The bundle ``data`` with its entries changed by ``change`` (in place)."""
    entries = zip_entries(data)
    change(entries)
    return make_zip(entries)


def ikasan_entries(path: Path) -> dict[str, Any]:
    """The JSON entries of an Ikasan export, by path without its root folder."""
    with zipfile.ZipFile(path) as archive:
        result = {}
        for name in archive.namelist():
            if name.endswith(".json"):
                result[name.split("/", 1)[1]] = json.loads(archive.read(name))
        return result


class Kit:
    """The helpers above, handed to tests as the ``kit`` fixture (test modules cannot import
    a conftest under ``--import-mode=importlib``)."""

    stamp = STAMP
    ikasan = IKASAN
    examples = EXAMPLES
    load_example = staticmethod(load_example)
    export = staticmethod(export)
    read = staticmethod(read)
    make_zip = staticmethod(make_zip)
    zip_entries = staticmethod(zip_entries)
    rezip = staticmethod(rezip)
    ikasan_entries = staticmethod(ikasan_entries)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
