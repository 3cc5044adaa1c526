"""The ``operator.action`` log event: an operator changed the course of runs or schedules.

Logged by the service operation once its change has committed (a refused or failed action
is not logged here; the audit log keeps those). Carries who acted and on what, never a
secret.
"""

from __future__ import annotations

from jobplan.logging import get_logger
from jobplan.service.caller import Caller

__all__ = ["operator_action"]

log = get_logger("jobplan.service.operator")


def operator_action(caller: Caller, action: str, **target: object) -> None:
    """Log that ``caller`` did ``action`` (``run.stop``, ``job_run.hold``...) on ``target``."""
    log.info(
        "operator.action",
        action=action,
        actor=caller.username,
        tenant=caller.tenant_name,
        api_key_id=caller.api_key_id,
        **target,
    )
