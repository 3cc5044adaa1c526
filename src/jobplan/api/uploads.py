"""Reading bundle uploads, shared by the native API and the dialects: one reader for the
file and its text fields (:func:`read_upload`), and the ``tokens`` field's JSON."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from jobplan.api.adapter import parse_json, run_blocking
from jobplan.errors import InvalidInput

__all__ = ["MAX_FIELD_CHARS", "Upload", "parse_tokens", "read_upload", "upload_name"]

#: Longest text field an upload may carry.
MAX_FIELD_CHARS = 65536
_SPOOL_BYTES = 1024 * 1024
_TOKENS_HINT = 'must be a JSON object of token values, e.g. {"env.name": "prod"}'


@dataclass(frozen=True, slots=True)
class Upload:
    """An uploaded file (spooled, still open) with the upload's text fields."""

    file: IO[bytes]
    file_name: str | None
    fields: dict[str, str]


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


@asynccontextmanager
async def read_upload(
    request: Request,
    *,
    fields: Collection[str],
    missing_file: str,
    wrong_type: str | None = None,
    raw_types: Collection[str] = (),
    strict: bool = False,
) -> AsyncIterator[Upload]:
    """Read the upload: the multipart part ``file`` and the text ``fields``, or (for
    ``raw_types``) the whole body as the file. The file is closed on leaving.

    ``missing_file`` is the message when there is no ``file`` part, ``wrong_type`` when the
    body is neither multipart nor raw (``None``: read it as a form anyway). ``strict``
    refuses fields not in ``fields`` (else they are ignored). Fields are at most
    :data:`MAX_FIELD_CHARS` long. Authenticate before calling this."""
    media_type = _media_type(request)
    if media_type in raw_types:
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - closed below
        try:
            async for chunk in request.stream():
                await run_blocking(spool.write, chunk)
            spool.seek(0)
            yield Upload(spool, None, {})
        finally:
            spool.close()
        return
    if wrong_type is not None and media_type != "multipart/form-data":
        raise InvalidInput(wrong_type)
    form = await _form(request, 1 + (len(fields) if strict else 10))
    try:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise InvalidInput(missing_file, field="file")
        values: dict[str, str] = {}
        for key, value in form.multi_items():
            if key == "file":
                continue
            if key not in fields or not isinstance(value, str):
                if strict:
                    raise InvalidInput("is not a field of this upload", field=key[:100])
                continue
            if len(value) > MAX_FIELD_CHARS:
                raise InvalidInput(f"is longer than {MAX_FIELD_CHARS} characters", field=key)
            values[key] = value
        yield Upload(part.file, part.filename, values)
    finally:
        await form.close()


async def _form(request: Request, max_fields: int) -> FormData:
    try:
        return await request.form(max_files=1, max_fields=max_fields)
    except HTTPException as exc:  # starlette's answer to a malformed multipart body
        raise InvalidInput(f"the multipart body cannot be read: {exc.detail}") from None


def parse_tokens(text: str | None, field: str = "tokens") -> dict[str, str]:
    """A ``tokens`` form field (or header): a JSON object of token name -> text value,
    checked like every JSON an adapter reads (:func:`~jobplan.api.adapter.parse_json`)."""
    if text is None or text.strip() == "":
        return {}
    value = parse_json(text, field=field, not_json=_TOKENS_HINT)
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidInput(
            'must be a JSON object of text values, e.g. {"env.name": "prod"}', field=field
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
