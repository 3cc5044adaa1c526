"""Users of a tenant and their roles."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from jobplan.errors import AlreadyExists, Conflict, InvalidInput, NotFound, PermissionDenied
from jobplan.model import Role
from jobplan.service import audit
from jobplan.service.audit import audited, field_changes
from jobplan.service.caller import Caller, Permission
from jobplan.service.pagination import Page, check_page
from jobplan.service.security import PasswordHasher
from jobplan.service.validation import check_password, check_username
from jobplan.store import Database, accounts, credentials
from jobplan.store.records import UserRecord

__all__ = ["Member", "UserService"]


@dataclass(frozen=True, slots=True)
class Member:
    """A user as seen from one tenant: the account plus its role there."""

    user: UserRecord
    role: Role


def _update_action(arguments: Mapping[str, Any]) -> str:
    """``user.role``, ``user.disable`` / ``user.enable`` or ``user.password`` when a change
    is only that; ``user.update`` for anything else or several at once."""
    given = {
        name
        for name in ("role", "display_name", "disabled", "password")
        if arguments.get(name) is not None
    }
    if given == {"role"}:
        return "user.role"
    if given == {"disabled"}:
        return "user.disable" if arguments["disabled"] else "user.enable"
    if given == {"password"}:
        return "user.password"
    return "user.update"


def _visible_fields(member: Member) -> dict[str, Any]:
    return {
        "role": str(member.role),
        "display_name": member.user.display_name,
        "disabled": member.user.disabled,
    }


class UserService:
    def __init__(
        self,
        database: Database,
        passwords: PasswordHasher,
        on_password_change: Callable[[], None] | None = None,
    ) -> None:
        self._db = database
        self._passwords = passwords
        self._on_password_change = on_password_change

    @audited("user.create", "user", "username")
    def create(
        self,
        caller: Caller,
        username: str,
        password: str,
        role: Role,
        display_name: str | None = None,
    ) -> Member:
        """Create an account in the caller's tenant. Names are unique per tenant: another
        tenant's "bob" neither blocks this one nor shows (a 409 here would tell that it
        exists); only a member of this tenant with the name does."""
        caller.require(Permission.USERS_WRITE)
        check_username(username)
        check_password(password)
        password_hash = self._passwords.hash(password)
        with self._db.transaction() as conn:
            if accounts.get_member_by_username(conn, caller.tenant_id, username) is not None:
                raise AlreadyExists("user", username)
            user = accounts.insert_user(conn, username, password_hash, display_name or username)
            accounts.add_membership(conn, user, caller.tenant_id, role)
            audit.record(
                conn,
                target_id=user.id,
                target_path=user.username,
                changes=field_changes({}, {"role": str(role), "display_name": user.display_name}),
            )
        return Member(user, role)

    def list(self, caller: Caller, limit: int = 50, offset: int = 0) -> Page[Member]:
        caller.require(Permission.USERS_READ)
        check_page(limit, offset)
        with self._db.read() as conn:
            rows, total = accounts.list_members(conn, caller.tenant_id, limit, offset)
        return Page([Member(user, Role(role)) for user, role in rows], total, limit, offset)

    def get(self, caller: Caller, user_id: str) -> Member:
        """A member of the caller's tenant; anyone may read themselves."""
        if user_id in ("me", caller.user_id):
            user_id = caller.user_id
        else:
            caller.require(Permission.USERS_READ)
        with self._db.read() as conn:
            return self._member(conn, caller, user_id)

    @audited(_update_action, "user", "user_id")
    def update(
        self,
        caller: Caller,
        user_id: str,
        *,
        role: Role | None = None,
        display_name: str | None = None,
        disabled: bool | None = None,
        password: str | None = None,
        current_password: str | None = None,
    ) -> Member:
        """Change a user. Users may change their own name and password (giving the current
        one); role and disabled flag need ``users:write`` and cannot be changed on oneself.

        The role is per tenant, but the name, password and disabled flag belong to the account,
        which may also be a member of other tenants: a tenant admin may change those only for
        accounts that are members of their tenant alone and are not system administrators.
        Password changes and disabling revoke the account's refresh tokens."""
        is_self = user_id in ("me", caller.user_id)
        user_id = caller.user_id if is_self else user_id
        if role is not None or disabled is not None:
            caller.require(Permission.USERS_WRITE)
            if is_self:
                raise Conflict("you cannot change your own role or disable yourself")
        elif not is_self:
            caller.require(Permission.USERS_WRITE)
        if password is not None:
            check_password(password)
        with self._db.transaction() as conn:
            member = self._member(conn, caller, user_id)
            if is_self and password is not None:
                self._check_own_password_change(caller, member, current_password)
            account_change = (
                display_name is not None or disabled is not None or (password is not None)
            )
            if account_change and not is_self:
                self._check_owns_account(conn, caller, member)
            values: dict[str, object] = {}
            if display_name is not None:
                values["display_name"] = display_name
            if disabled is not None:
                values["disabled"] = disabled
            if password is not None:
                values["password_hash"] = self._passwords.hash(password)
            if values:
                accounts.update_user(conn, user_id, **values)
            if password is not None or disabled:
                credentials.revoke_user_refresh_tokens(conn, user_id)
            if role is not None:
                accounts.set_role(conn, user_id, caller.tenant_id, role)
            updated = self._member(conn, caller, user_id)
            changes = field_changes(_visible_fields(member), _visible_fields(updated))
            if password is not None:  # that it changed; never the password or its hash
                changes.append({"kind": "changed", "path": "password"})
            audit.record(conn, target_id=user_id, target_path=member.user.username, changes=changes)
        if (password is not None or disabled) and self._on_password_change is not None:
            self._on_password_change()
        return updated

    @audited("user.remove", "user", "user_id")
    def remove(self, caller: Caller, user_id: str) -> None:
        """Remove a user from the caller's tenant (and delete the account if it belongs to no
        other tenant)."""
        caller.require(Permission.USERS_WRITE)
        if user_id in ("me", caller.user_id):
            raise Conflict("you cannot remove yourself")
        with self._db.transaction() as conn:
            member = self._member(conn, caller, user_id)
            accounts.remove_membership(conn, user_id, caller.tenant_id)
            credentials.revoke_user_credentials_in(conn, user_id, caller.tenant_id)
            if not member.user.is_system_admin and not accounts.list_memberships_of_user(
                conn, user_id
            ):
                accounts.delete_user(conn, user_id)
            audit.record(
                conn,
                target_id=user_id,
                target_path=member.user.username,
                changes=field_changes({"role": str(member.role)}, {}),
            )

    @staticmethod
    def _check_owns_account(conn: Connection, caller: Caller, member: Member) -> None:
        """Account-wide changes by a tenant admin: only for accounts wholly in their tenant."""
        if caller.can(Permission.TENANTS_ADMIN):
            return
        others = [
            m
            for m, _ in accounts.list_memberships_of_user(conn, member.user.id)
            if m.tenant_id != caller.tenant_id
        ]
        if member.user.is_system_admin or others:
            raise PermissionDenied(
                "this account is shared with other tenants or is a system administrator; "
                "only a system administrator can change its name, password or disabled flag"
            )

    def _check_own_password_change(
        self, caller: Caller, member: Member, current_password: str | None
    ) -> None:
        if caller.api_key_id is not None:
            raise PermissionDenied("an API key cannot change its owner's password")
        if current_password is None or not self._passwords.verify(
            current_password, member.user.password_hash
        ):
            raise InvalidInput("is wrong or missing", field="current_password")

    @staticmethod
    def _member(conn: Connection, caller: Caller, user_id: str) -> Member:
        membership = accounts.get_membership(conn, user_id, caller.tenant_id)
        user = accounts.get_user(conn, user_id) if membership else None
        if membership is None or user is None:
            raise NotFound("user", user_id)
        return Member(user, Role(membership.role))
