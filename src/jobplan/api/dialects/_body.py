"""Request bodies as dialects read them: raw JSON objects, refused with their own messages."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from jobplan.errors import InvalidInput

__all__ = ["json_object"]


async def json_object(
    request: Request, hint: str, *, empty: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The body as a JSON object; ``empty`` (if given) for a blank body. A body that is not
    JSON, or not an object, is :class:`InvalidInput` (``hint`` says what object is wanted)."""
    raw = await request.body()
    if empty is not None and not raw.strip():
        return empty
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput("the body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise InvalidInput(f"the body must be a JSON object {hint}")
    return body
