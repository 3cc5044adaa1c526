"""A start on a database already at the head does not import or run Alembic: one query reads
its version and compares it with the newest migration's number. A database behind is still
migrated, and the numbering the check relies on is Alembic's own order."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from jobplan.store import Database
from jobplan.store.database import MIGRATIONS, migration_head

_OPEN = (
    "import json, sys\n"
    "from jobplan.store import Database\n"
    "database = Database(sys.argv[1])\n"
    "database.upgrade()\n"
    "print(json.dumps({'revision': database.revision(), 'alembic': 'alembic' in sys.modules}))\n"
)


def _open(url: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _OPEN, url], capture_output=True, text=True, check=True
    )
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def test_the_head_is_alembics_and_every_migration_revises_the_one_before(
    tmp_path: Path,
) -> None:
    """Fails when a migration is added whose revision is not its file's number, or which
    does not follow the one before: the start-up check would compare with a wrong head."""
    scripts = ScriptDirectory.from_config(
        Database(f"sqlite:///{tmp_path / 'x.db'}").alembic_config()
    )
    assert scripts.get_heads() == [migration_head()]
    numbers = sorted(
        match[1]
        for path in (MIGRATIONS / "versions").iterdir()
        if (match := re.match(r"(\d{4})_", path.name)) and path.suffix == ".py"
    )
    assert numbers == [f"{n:04d}" for n in range(1, len(numbers) + 1)]
    for previous, number in zip([None, *numbers], numbers, strict=False):
        script = scripts.get_revision(number)
        assert script is not None and script.down_revision == previous, number


def test_a_database_at_the_head_opens_without_alembic(database_url: str) -> None:
    assert _open(database_url) == {"revision": migration_head(), "alembic": False}


def test_a_database_behind_the_head_is_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    behind = Database(url)
    behind.upgrade("0017")
    behind.dispose()
    assert _open(url) == {"revision": migration_head(), "alembic": True}
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    assert _open(empty) == {"revision": migration_head(), "alembic": True}
