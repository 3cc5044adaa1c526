"""Imports point downward only (ARCHITECTURE.md): a small AST check over ``src/jobplan``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "jobplan"
BASE = {"errors", "logging", "settings", "metrics", "__init__"}

ALLOWED: dict[str, set[str]] = {
    "cron": {"cron"},
    "model": {"model", "cron"},
    "store": {"store", "model", "cron"},
    "bundle": {"bundle", "model", "cron"},
    "engine": {"engine", "store", "bundle", "model", "cron"},
    # ``agent`` for its pinned protocol messages (agent/protocol.py), which the server's
    # agent routes share with the agent process
    "service": {"service", "engine", "store", "bundle", "model", "cron", "agent"},
    "api": {"api", "service", "model", "cron", "agent"},
    # the console shares the HTTP adapters' pieces (error table, caller resolution)
    "web": {"web", "api", "service", "model", "cron"},
    "cli": {"cli", "api", "service", "agent", "model", "cron"},
    # the agent process runs jobs with the engine's executors, nothing else of the server's
    "agent": {"agent", "engine", "model", "cron"},
}


def _layer_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    layers = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "jobplan" and len(parts) > 1:
                layers.add(parts[1])
    return layers


#: The app factory composes every HTTP adapter, the console included.
COMPOSITION: dict[str, set[str]] = {"api/app.py": {"web"}}

SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if _layer_of(p) in ALLOWED)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_lower_layers(path: Path) -> None:
    layer = _layer_of(path)
    extra = COMPOSITION.get(path.relative_to(PACKAGE).as_posix(), set())
    illegal = _imported_layers(path) - ALLOWED[layer] - BASE - extra
    assert not illegal, f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(illegal)}"


def test_base_modules_import_no_layer() -> None:
    for name in ("errors", "settings", "logging", "metrics"):
        imported = _imported_layers(PACKAGE / f"{name}.py")
        assert not (imported - BASE), f"{name}.py imports {sorted(imported)}"
