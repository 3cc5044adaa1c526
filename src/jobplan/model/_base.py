"""The base class of every document model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Document"]


class Document(BaseModel):
    """An immutable, strict-keyed document: unknown fields are errors naming the field.

    Field docstrings become descriptions in the JSON schema (and so in the OpenAPI document).
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
    )
