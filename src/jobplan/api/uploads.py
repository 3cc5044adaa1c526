"""Reading bundle uploads, shared by the native API and the dialects."""

from __future__ import annotations

import json

from jobplan.errors import InvalidInput

__all__ = ["parse_tokens", "upload_name"]


def parse_tokens(text: str | None) -> dict[str, str]:
    """A ``tokens`` form field: a JSON object of token name -> text value."""
    if text is None or text.strip() == "":
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidInput(
            'must be a JSON object of token values, e.g. {"env.name": "prod"}', field="tokens"
        ) from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidInput(
            'must be a JSON object of text values, e.g. {"env.name": "prod"}', field="tokens"
        )
    return value


def upload_name(name: str | None) -> str | None:
    """An uploaded file's name, reduced to a safe ASCII file name (``None`` if nothing is
    left): no folders, only letters, digits, ``.``, ``_``, ``-`` and spaces."""
    if not name:
        return None
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(
        c if (c.isascii() and c.isalnum()) or c in "._- " else "_" for c in base
    ).lstrip("._- ")
    return cleaned[:200] or None
