"""The record types services return, re-exported so adapters never import ``store``."""

from jobplan.store.records import (
    ApiKeyRecord,
    FolderRecord,
    MembershipRecord,
    PlanRecord,
    PlanVersionRecord,
    TenantRecord,
    UserRecord,
)

__all__ = [
    "ApiKeyRecord",
    "FolderRecord",
    "MembershipRecord",
    "PlanRecord",
    "PlanVersionRecord",
    "TenantRecord",
    "UserRecord",
]
