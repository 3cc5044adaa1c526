"""Size limits on plan documents.

They exist so that an oversized or hostile document is rejected with a validation error (HTTP
422) instead of exhausting memory or CPU. They are generous for real plans.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "MAX_BLACKOUTS",
    "MAX_CALENDARS",
    "MAX_COMMAND_CHARS",
    "MAX_CONDITION_DEPTH",
    "MAX_CONDITION_ITEMS",
    "MAX_DESCRIPTION_CHARS",
    "MAX_FOLDER_CHARS",
    "MAX_FOLDER_DEPTH",
    "MAX_HTTP_BODY_CHARS",
    "MAX_JOBS",
    "MAX_LOCKS",
    "MAX_MAPPING_ITEMS",
    "MAX_NAME_CHARS",
    "MAX_PARAMETERS",
    "MAX_PATH_CHARS",
    "MAX_PATTERNS",
    "MAX_RECIPIENTS",
    "MAX_STAGES",
    "MAX_STAGE_DEPTH",
    "MAX_TEXT_CHARS",
    "MAX_URL_CHARS",
    "MAX_VALUE_CHARS",
]

MAX_NAME_CHARS: Final = 100
"""Plan, job, stage, lock, parameter and event names."""
MAX_FOLDER_CHARS: Final = 500
MAX_FOLDER_DEPTH: Final = 16
MAX_DESCRIPTION_CHARS: Final = 10_000
MAX_TEXT_CHARS: Final = 1_000
"""Short free text: agent names, service names, header values."""
MAX_VALUE_CHARS: Final = 65_536
"""Parameter defaults and environment variable values."""
MAX_PATH_CHARS: Final = 4_096
MAX_URL_CHARS: Final = 8_192
MAX_COMMAND_CHARS: Final = 65_536
MAX_HTTP_BODY_CHARS: Final = 1_048_576

MAX_JOBS: Final = 10_000
"""Jobs in one plan, counting every nested stage."""
MAX_STAGES: Final = 1_000
"""Stages in one plan, counting nested ones."""
MAX_STAGE_DEPTH: Final = 16
MAX_PARAMETERS: Final = 500
MAX_LOCKS: Final = 500
MAX_BLACKOUTS: Final = 500
MAX_CALENDARS: Final = 20
MAX_RECIPIENTS: Final = 50
MAX_PATTERNS: Final = 100
MAX_MAPPING_ITEMS: Final = 500
"""Environment variables, HTTP headers."""
MAX_CONDITION_ITEMS: Final = 10_000
"""Operands of one ``and`` / ``or``."""
MAX_CONDITION_DEPTH: Final = 32
"""Nesting of ``and`` / ``or`` / ``not`` in one condition."""
