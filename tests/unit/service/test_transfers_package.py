"""The public surface of jobplan.service.transfers, pinned: the routers, the Spark and Ikasan
dialects, the worker and the bench import these names from the package."""

from __future__ import annotations

import jobplan.service.transfers as transfers


def test_public_names() -> None:
    assert transfers.__all__ == [
        "ExportOptions",
        "ImportOptions",
        "TransferKind",
        "TransferLimits",
        "TransferService",
        "TransferStatus",
    ]
    for name in transfers.__all__:
        assert getattr(transfers, name).__module__.startswith("jobplan.service.transfers.")
