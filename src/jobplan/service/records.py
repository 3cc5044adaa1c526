"""The record types services return, re-exported so adapters never import ``store``."""

from jobplan.store.records import (
    AgentRecord,
    ApiKeyRecord,
    AuditRecord,
    FolderRecord,
    JobRunRecord,
    MembershipRecord,
    PlanRecord,
    PlanRunRecord,
    PlanVersionRecord,
    RerunRecord,
    TenantRecord,
    TransferJobRecord,
    UserRecord,
)

__all__ = [
    "AgentRecord",
    "ApiKeyRecord",
    "AuditRecord",
    "FolderRecord",
    "JobRunRecord",
    "MembershipRecord",
    "PlanRecord",
    "PlanRunRecord",
    "PlanVersionRecord",
    "RerunRecord",
    "TenantRecord",
    "TransferJobRecord",
    "UserRecord",
]
