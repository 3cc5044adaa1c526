"""The record types services return, re-exported so adapters never import ``store``."""

from jobplan.store.records import (
    ApiKeyRecord,
    AuditRecord,
    FolderRecord,
    JobRunRecord,
    MembershipRecord,
    PlanRecord,
    PlanRunRecord,
    PlanVersionRecord,
    TenantRecord,
    TransferJobRecord,
    UserRecord,
)

__all__ = [
    "ApiKeyRecord",
    "AuditRecord",
    "FolderRecord",
    "JobRunRecord",
    "MembershipRecord",
    "PlanRecord",
    "PlanRunRecord",
    "PlanVersionRecord",
    "TenantRecord",
    "TransferJobRecord",
    "UserRecord",
]
