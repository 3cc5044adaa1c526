"""Logs never carry local variables of a traceback (they may hold credentials)."""

from __future__ import annotations

import json
import logging

import pytest

from jobplan.logging import configure_logging, get_logger


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_tracebacks_show_no_local_variables(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", fmt)
    try:
        password = "hunter2-not-for-logs"

        def fail() -> None:
            raise ValueError(f"failed after {len(password)} characters")

        try:
            fail()
        except ValueError:
            get_logger("jobplan.test").exception("delivery_crashed")
        text = capsys.readouterr().err
    finally:
        logging.getLogger().handlers.clear()
    assert "delivery_crashed" in text and "ValueError" in text
    assert "hunter2-not-for-logs" not in text
    if fmt == "json":
        record = json.loads(text.strip().splitlines()[-1])
        assert record["exception"][0]["exc_type"] == "ValueError"
