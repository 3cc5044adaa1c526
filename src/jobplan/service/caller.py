"""Who is calling: the resolved identity every service operation is checked against."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from jobplan.errors import PermissionDenied
from jobplan.model import Role

__all__ = ["ROLE_PERMISSIONS", "AgentIdentity", "Caller", "Permission", "permissions_of"]


class Permission(StrEnum):
    """What an operation needs. API key scopes are drawn from these names."""

    PLANS_READ = "plans:read"
    PLANS_WRITE = "plans:write"
    RUNS_READ = "runs:read"
    RUNS_WRITE = "runs:write"
    KEYS_READ = "keys:read"
    KEYS_WRITE = "keys:write"
    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    TENANTS_ADMIN = "tenants:admin"
    NODES_READ = "nodes:read"
    AUDIT_READ = "audit:read"
    METRICS_READ = "metrics:read"
    AGENTS_READ = "agents:read"
    AGENTS_WRITE = "agents:write"
    SECRETS_READ = "secrets:read"
    SECRETS_WRITE = "secrets:write"


# secrets: who reads plans reads the names of the secrets they refer to (never a value: no
# permission reads a value back); operators set, replace and delete them
_VIEWER = {
    Permission.PLANS_READ,
    Permission.RUNS_READ,
    Permission.KEYS_READ,
    Permission.SECRETS_READ,
}
_OPERATOR = _VIEWER | {Permission.RUNS_WRITE, Permission.KEYS_WRITE, Permission.SECRETS_WRITE}
_SUPERVISOR = _OPERATOR | {
    Permission.PLANS_WRITE,
    Permission.USERS_READ,
    Permission.NODES_READ,
    Permission.AUDIT_READ,
    Permission.AGENTS_READ,
}
# registering an agent hands out a key that claims the tenant's job runs: admins only
_ADMIN = _SUPERVISOR | {Permission.USERS_WRITE, Permission.AGENTS_WRITE}

#: What each role may do in its tenant. Keys are always one's own unless the role also has
#: ``users:read`` (see others' keys) or ``users:write`` (revoke others' keys).
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset(_VIEWER),
    Role.OPERATOR: frozenset(_OPERATOR),
    Role.SUPERVISOR: frozenset(_SUPERVISOR),
    Role.ADMIN: frozenset(_ADMIN),
}


#: What system administrators hold besides their role: what spans every tenant (the
#: tenants themselves, and the node's metrics, which count every tenant's runs).
_SYSTEM = frozenset({Permission.TENANTS_ADMIN, Permission.METRICS_READ})


def permissions_of(role: Role, is_system_admin: bool) -> frozenset[Permission]:
    """Everything ``role`` grants, plus tenant administration and metrics for system
    admins."""
    granted = ROLE_PERMISSIONS[role]
    return granted | _SYSTEM if is_system_admin else granted


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated user acting in one tenant, possibly narrowed by API key scopes."""

    user_id: str
    username: str
    tenant_id: str
    tenant_name: str
    role: Role
    is_system_admin: bool = False
    scopes: frozenset[str] | None = None
    api_key_id: str | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        """The role's permissions, intersected with the key's scopes when there are any."""
        granted = permissions_of(self.role, self.is_system_admin)
        if self.scopes is None:
            return granted
        return frozenset(p for p in granted if p.value in self.scopes)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        """Raise :class:`PermissionDenied` unless the caller holds ``permission``."""
        if permission in self.permissions:
            return
        if permission in permissions_of(self.role, self.is_system_admin):
            raise PermissionDenied(f"the API key's scopes do not include '{permission}'")
        raise PermissionDenied(
            f"role '{self.role}' in tenant '{self.tenant_name}' does not allow '{permission}'"
        )


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    """A remote agent authenticated by its key: it acts in one tenant, as itself, and may
    use only the agent protocol (never a user's operations: it is not a :class:`Caller`)."""

    agent_id: str
    name: str
    tenant_id: str
    labels: tuple[str, ...]
