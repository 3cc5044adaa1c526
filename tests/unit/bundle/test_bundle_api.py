"""The public surface of jobplan.bundle, pinned."""

from __future__ import annotations

import jobplan.bundle as bundle
from jobplan.errors import InvalidInput


def test_public_names() -> None:
    assert bundle.__all__ == [
        "DEFAULT_LIMITS",
        "FORMAT_VERSION",
        "BundleContents",
        "BundleError",
        "BundleLimits",
        "BundlePlan",
        "BundleSchemaError",
        "BundleTooLarge",
        "BundleWarning",
        "CorruptBundle",
        "Manifest",
        "ManifestEntry",
        "ManifestMismatch",
        "ManifestPlan",
        "Problem",
        "TokenLocation",
        "TokenSpec",
        "UnknownEntry",
        "UnresolvedTokens",
        "UnsafeEntry",
        "UnsupportedFormat",
        "paused_gc",
        "read_bundle",
        "write_bundle",
    ]
    for name in bundle.__all__:
        assert getattr(bundle, name) is not None


def test_errors_are_invalid_input_with_entry_and_field() -> None:
    for name in bundle.__all__:
        value = getattr(bundle, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, bundle.BundleError), name
    assert issubclass(bundle.BundleError, InvalidInput)
    error = bundle.UnsafeEntry("symbolic links are not allowed", entry="jobs/x.json")
    assert (error.entry, error.field, error.detail) == (
        "jobs/x.json",
        None,
        "symbolic links are not allowed",
    )
    assert str(error) == "jobs/x.json: symbolic links are not allowed"
    schema = bundle.BundleSchemaError(
        [bundle.Problem("a.json", "jobs[0].cron", "bad"), bundle.Problem(None, None, "worse")]
    )
    assert (schema.entry, schema.field, schema.detail) == ("a.json", "jobs[0].cron", "bad")
    assert str(schema) == "2 problems: a.json: jobs[0].cron: bad; worse"
