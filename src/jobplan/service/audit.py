"""The audit log: one record per state-changing operation and per sign-in attempt.

How a record comes to be
------------------------
* An adapter opens an :class:`AuditScope` for each request (:func:`audit_scope`): where the
  request comes from (address, user agent) and how an error reads as an HTTP status. One HTTP
  middleware does it for the native API, the four dialects and the console alike
  (``api/audit.py``); the offline admin CLI opens one with the method ``local``.
* Authentication notes in the scope who the caller is and how they proved it
  (:func:`note_authenticated`, called by ``AuthService``).
* Every mutating service operation is decorated with :func:`audited` (its action name, its
  target's type and which argument names the target). Inside its transaction it calls
  :func:`record` with what changed, so the record is inserted in the transaction of the
  change: no change commits without its record, and a failing audit insert rolls it back.
* When the operation raises instead, the decorator writes a ``refused`` record (a domain
  error: the status the scope translates it to and its message) or a ``failed`` one (any
  other exception) in a transaction of its own: the change was rolled back, its record stays.
* Requests refused before any service operation began (a body the framework rejects) are
  recorded by the middleware as the action ``request``, when the caller was authenticated.

Why a context variable rather than a parameter: the scope is request-scoped data that every
adapter has and no service operation decides on. Passing it down would add a parameter to
every mutating operation and every adapter's call of it (dozens of places to keep in step);
writing records in the adapters instead could not share the change's transaction and would
repeat itself in each adapter. The scope is a *mutable* object set once in the request's task:
the thread-pool calls adapters make copy the context, so they see (and fill in) the very same
object. Engine-internal work opens no scope: its records carry no method or address.

What is never recorded: passwords, API key secrets, tokens, hashes. Changed secrets appear
as a changed field without values (``password``); see docs/operations.md for the action table.
"""

from __future__ import annotations

import functools
import getpass
import inspect
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import Connection

from jobplan.errors import InvalidInput, JobplanError
from jobplan.logging import get_logger
from jobplan.service.caller import Caller, Permission
from jobplan.service.pagination import Page, check_page
from jobplan.store import Database, accounts, new_id
from jobplan.store import audit as store
from jobplan.store.audit import AuditFilter
from jobplan.store.records import AuditRecord, UserRecord

if TYPE_CHECKING:
    from jobplan.model import PlanDocument
    from jobplan.model.diff import Change

__all__ = [
    "DONE",
    "FAILED",
    "METHOD_AGENT_KEY",
    "METHOD_API_KEY",
    "METHOD_BASIC",
    "METHOD_BEARER",
    "METHOD_CLIENT_CREDENTIALS",
    "METHOD_CONSOLE",
    "METHOD_LOCAL",
    "METHOD_PASSWORD",
    "METHOD_REFRESH",
    "REFUSED",
    "AuditQuery",
    "AuditScope",
    "AuditService",
    "audit_scope",
    "audited",
    "current_scope",
    "field_changes",
    "note_authenticated",
    "note_refusal",
    "plan_changes",
    "record",
    "record_change",
    "record_local",
    "record_local_refusal",
    "record_login",
]

log = get_logger(__name__)

DONE, REFUSED, FAILED = "done", "refused", "failed"

#: How a caller proved who they are (``auth_method``).
METHOD_PASSWORD = "password"  # noqa: S105 - user name and password at a login endpoint (token, dialects)
METHOD_CONSOLE = "console"  # console sign-in, and requests with its session cookie
METHOD_BEARER = "bearer"  # an access token
METHOD_BASIC = "basic"  # HTTP Basic on the request itself
METHOD_API_KEY = "api_key"
METHOD_AGENT_KEY = "agent_key"  # a remote agent's key (key_id: the agent's id)
METHOD_CLIENT_CREDENTIALS = "client_credentials"  # OAuth grant with an API key
METHOD_REFRESH = "refresh_token"
METHOD_LOCAL = "local"  # the offline admin CLI, on the server's own database

_USER_AGENT_MAX = 500
_NAME_MAX = 200
_SOURCE_MAX = 100
_MESSAGE_MAX = 2000

P = ParamSpec("P")
R = TypeVar("R")


def _no_status(exc: BaseException) -> int | None:
    return None


@dataclass(slots=True)
class AuditScope:
    """What one request (or one offline command) tells every record it causes."""

    source: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    """The request's id (``X-Request-ID``), joining its records to its log lines."""
    auth_method: str | None = None
    status_of: Callable[[BaseException], int | None] = _no_status
    """The status a client sees for an error (``None`` outside HTTP)."""
    caller: Caller | None = None
    recorded: int = 0
    """Records written for this request so far."""
    refusal: str | None = None
    """Why the request was refused before reaching a service (for the ``request`` record)."""
    refused: dict[str, int | None] = field(default_factory=dict)
    """Refusals recorded for this request: record id -> the status written (the adapter
    may answer differently - OAuth's 400 ``invalid_grant`` - and the middleware corrects it)."""


_scope: ContextVar[AuditScope | None] = ContextVar("jobplan_audit_scope", default=None)


@contextmanager
def audit_scope(scope: AuditScope) -> Iterator[AuditScope]:
    """Make ``scope`` the current one for the block (and the thread-pool calls it makes)."""
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def current_scope() -> AuditScope | None:
    return _scope.get()


def note_authenticated(caller: Caller, method: str) -> None:
    """Remember who the request's caller is and how they authenticated."""
    scope = _scope.get()
    if scope is not None:
        scope.caller = caller
        scope.auth_method = method


def note_refusal(message: str) -> None:
    """Remember why an adapter refused the request before calling a service."""
    scope = _scope.get()
    if scope is not None:
        scope.refusal = message


# --- what changed ----------------------------------------------------------------------------


def _change(kind: str, path: str, before: Any = None, after: Any = None) -> dict[str, Any]:
    return {"kind": kind, "path": path, "before": before, "after": after}


def field_changes(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    prefix: str = "",
    secret: Collection[str] = (),
) -> list[dict[str, Any]]:
    """The fields that differ between ``before`` and ``after`` (keys in order), as change
    items (``kind``, ``path``, ``before``, ``after``). Fields named in ``secret`` are listed
    as changed without their values."""
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if key in before and key in after and old == new:
            continue
        kind = "added" if key not in before else "removed" if key not in after else "changed"
        if key in secret:
            old = new = None
        changes.append(_change(kind, f"{prefix}{key}", old, new))
    return changes


def plan_changes(
    previous: PlanDocument | None,
    document: PlanDocument,
    before: str | None,
    after: str,
    diff: Sequence[Change] | None = None,
) -> list[dict[str, Any]]:
    """A plan's new version: its version number, then the document's differences (``diff``
    when the caller has computed them already)."""
    changes = [_change("changed" if before else "added", "version", before, after)]
    if previous is not None:
        found = previous.diff(document) if diff is None else diff
        changes.extend(_change(c.kind.value, c.path, c.before, c.after) for c in found)
    return changes


# --- writing ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    """The record of the operation in progress (one per outermost audited call)."""

    caller: Caller
    action: str
    target_type: str | None
    target_id: str | None = None
    target_path: str | None = None
    written: bool = False


_entry: ContextVar[_Entry | None] = ContextVar("jobplan_audit_entry", default=None)


def _clip(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


def _row(
    *,
    action: str,
    outcome: str,
    caller: Caller | None,
    tenant: tuple[str, str] | None = None,
    actor_name: str | None = None,
    auth_method: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    target_path: str | None = None,
    status: int | None = None,
    message: str | None = None,
    changes: list[dict[str, Any]] | None = None,
) -> AuditRecord:
    scope = _scope.get()
    if caller is not None:
        tenant = (caller.tenant_id, caller.tenant_name)
    return AuditRecord(
        id=new_id(),
        time=datetime.now(UTC),
        tenant_id=tenant[0] if tenant else None,
        tenant_name=tenant[1] if tenant else None,
        actor_id=caller.user_id if caller else None,
        actor_name=_clip(caller.username if caller else actor_name, _NAME_MAX),
        api_key_id=caller.api_key_id if caller else None,
        auth_method=auth_method or (scope.auth_method if scope else None),
        source=_clip(scope.source if scope else None, _SOURCE_MAX),
        user_agent=_clip(scope.user_agent if scope else None, _USER_AGENT_MAX),
        action=action,
        target_type=target_type,
        target_id=_clip(target_id, 64),
        target_path=_clip(target_path, 700),
        outcome=outcome,
        status=status,
        message=_clip(message, _MESSAGE_MAX),
        changes=changes,
        request_id=scope.request_id if scope else None,
    )


def _insert(conn: Connection, row: AuditRecord) -> None:
    store.insert(conn, row)
    scope = _scope.get()
    if scope is not None:
        scope.recorded += 1
        if row.outcome != DONE:
            scope.refused[row.id] = row.status


def record(
    conn: Connection,
    *,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    target_path: str | None = None,
    changes: list[dict[str, Any]] | None = None,
) -> None:
    """Write the current operation's record in ``conn`` (the change's own transaction),
    naming its target and what changed. Outside an :func:`audited` operation, a no-op."""
    entry = _entry.get()
    if entry is None or entry.written:
        return
    entry.action = action or entry.action
    entry.target_type = target_type or entry.target_type
    entry.target_id = target_id or entry.target_id
    entry.target_path = target_path or entry.target_path
    _write_done(conn, entry, changes)


def _write_done(conn: Connection, entry: _Entry, changes: list[dict[str, Any]] | None) -> None:
    row = _row(
        action=entry.action,
        outcome=DONE,
        caller=entry.caller,
        target_type=entry.target_type,
        target_id=entry.target_id,
        target_path=entry.target_path,
        changes=changes,
    )
    _insert(conn, row)
    entry.written = True


def record_change(
    conn: Connection,
    caller: Caller,
    *,
    action: str,
    target_type: str,
    target_id: str | None,
    target_path: str | None,
    changes: list[dict[str, Any]] | None,
) -> None:
    """A change made on ``caller``'s behalf outside any request (an import job applying its
    bundle, plan by plan), in the change's transaction."""
    _insert(
        conn,
        _row(
            action=action,
            outcome=DONE,
            caller=caller,
            target_type=target_type,
            target_id=target_id,
            target_path=target_path,
            changes=changes,
        ),
    )


def _write_outcome(database: Database, entry: _Entry, exc: BaseException) -> None:
    """The record of an operation that raised, in a transaction of its own. Never raises:
    the operation's own error is what the caller must see."""
    scope = _scope.get()
    status = scope.status_of(exc) if scope else None
    if isinstance(exc, JobplanError):
        outcome, message = REFUSED, exc.message
    else:
        outcome, message = FAILED, f"internal error ({type(exc).__name__})"
    row = _row(
        action=entry.action,
        outcome=outcome,
        caller=entry.caller,
        target_type=entry.target_type,
        target_id=entry.target_id,
        target_path=entry.target_path,
        status=status,
        message=message,
    )
    try:
        with database.transaction() as conn:
            _insert(conn, row)
    except Exception as error:  # the database may be what failed
        log.error("audit_record_lost", action=entry.action, outcome=outcome, error=str(error))


class _HasDatabase(Protocol):
    _db: Database


S = TypeVar("S", bound=_HasDatabase)
Target = str | Callable[[Mapping[str, Any]], str | None] | None


def audited(
    action: str | Callable[[Mapping[str, Any]], str], target_type: str | None, target: Target = None
) -> Callable[[Callable[Concatenate[S, Caller, P], R]], Callable[Concatenate[S, Caller, P], R]]:
    """Record every call of a service operation ``op(self, caller, ...)`` as ``action``.

    ``action`` may be computed from the bound arguments (``plan.enable`` or ``plan.disable``).
    ``target`` names the argument that refers to the target (or computes the reference from
    the bound arguments), so a refusal names what was asked for even when it never was found.
    The operation calls :func:`record` inside its transaction; if it returns without doing
    so (nothing to change), a ``done`` record is written afterwards. A call made inside
    another audited operation is part of that one and writes nothing itself.
    """

    def decorate(
        operation: Callable[Concatenate[S, Caller, P], R],
    ) -> Callable[Concatenate[S, Caller, P], R]:
        signature = inspect.signature(operation)

        def describe(entry: _Entry, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            try:
                bound = signature.bind_partial(*args, **kwargs).arguments
            except TypeError:
                return  # the call itself is wrong; the operation will say so
            if callable(action):
                entry.action = action(bound)
            value = target(bound) if callable(target) else bound.get(target) if target else None
            entry.target_path = None if value is None else str(value)

        @functools.wraps(operation)
        def run(service: S, caller: Caller, /, *args: P.args, **kwargs: P.kwargs) -> R:
            if _entry.get() is not None:
                return operation(service, caller, *args, **kwargs)
            entry = _Entry(caller, action if isinstance(action, str) else "", target_type)
            describe(entry, (service, caller, *args), kwargs)
            token = _entry.set(entry)
            try:
                result = operation(service, caller, *args, **kwargs)
            except BaseException as exc:
                _entry.reset(token)
                if isinstance(exc, Exception):
                    _write_outcome(service._db, entry, exc)
                raise
            _entry.reset(token)
            if not entry.written:
                with service._db.transaction() as conn:
                    _write_done(conn, entry, None)
            return result

        return run

    return decorate


def record_login(
    database: Database,
    *,
    method: str,
    username: str | None,
    tenant_name: str | None = None,
    caller: Caller | None = None,
    error: JobplanError | None = None,
    conn: Connection | None = None,
    key_id: str | None = None,
) -> None:
    """A sign-in attempt: ``caller`` on success (written in ``conn`` when given, the
    transaction that opens the session), ``error`` on failure (its own transaction; the user
    name tried and key id are kept, never a password or secret). A failure is filed under
    the tenant it named, else the tenant of the named user when they have only one (user
    names are per tenant: without a tenant, only an account whose name is unique on the
    server is "the named user")."""
    if caller is not None:
        row = _row(
            action="login",
            outcome=DONE,
            caller=caller,
            auth_method=method,
            target_type="user",
            target_id=caller.user_id,
            target_path=caller.username,
        )
        if conn is not None:
            _insert(conn, row)
            return
    try:
        with database.transaction() as tx:
            if caller is None:
                row = _failed_login(tx, method, username, tenant_name, error, key_id)
            _insert(tx, row)
    except Exception as failure:
        log.error("audit_record_lost", action="login", error=str(failure))


def _failed_login(
    conn: Connection,
    method: str,
    username: str | None,
    tenant_name: str | None,
    error: JobplanError | None,
    key_id: str | None,
) -> AuditRecord:
    scope = _scope.get()
    tenant: tuple[str, str] | None = None
    if username and not tenant_name and "/" in username:  # <tenant>/<name> (see auth)
        tenant_name, _, username = username.partition("/")
    user: UserRecord | None = None
    if username and tenant_name:  # names are per tenant: the named tenant's user
        named = accounts.get_tenant_by_name(conn, tenant_name)
        user = accounts.get_member_by_username(conn, named.id, username) if named else None
    elif username:  # without a tenant: only an account whose name is unique on the server
        user = accounts.get_global_user(conn, username)
    target_type = "api_key" if key_id else "user"
    if key_id is not None and method == METHOD_AGENT_KEY:
        from jobplan.store import agents

        target_type = "agent"
        agent = agents.get_agent(conn, key_id)
        if agent is not None:
            found = accounts.get_tenant(conn, agent.tenant_id)
            tenant = (found.id, found.name) if found else None
            username = agent.name
    elif key_id is not None:
        from jobplan.store import credentials

        key = credentials.get_api_key(conn, key_id)
        if key is not None:
            found = accounts.get_tenant(conn, key.tenant_id)
            tenant = (found.id, found.name) if found else None
            user = accounts.get_user(conn, key.user_id)
    elif tenant_name:
        found = accounts.get_tenant_by_name(conn, tenant_name)
        tenant = (found.id, found.name) if found else None
    elif user is not None:
        memberships = accounts.list_memberships_of_user(conn, user.id)
        if len(memberships) == 1:
            tenant = (memberships[0][0].tenant_id, memberships[0][1])
    status = scope.status_of(error) if scope is not None and error is not None else None
    return _row(
        action="login",
        outcome=REFUSED,
        caller=None,
        tenant=tenant,
        actor_name=user.username if user else username,
        auth_method=method,
        target_type=target_type,
        target_id=key_id or (user.id if user else None),
        target_path=user.username if user else username,
        status=status,
        message=error.message if error else None,
    )


def _local_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def record_local(
    conn: Connection,
    *,
    action: str,
    tenant: tuple[str, str] | None,
    target_type: str,
    target_id: str | None,
    target_path: str | None,
    changes: list[dict[str, Any]] | None = None,
) -> None:
    """A change made by the offline admin CLI, in its transaction: the actor is the
    operating-system user running it (holding the data folder is the credential)."""
    _insert(
        conn,
        _row(
            action=action,
            outcome=DONE,
            caller=None,
            tenant=tenant,
            actor_name=_local_actor(),
            auth_method=METHOD_LOCAL,
            target_type=target_type,
            target_id=target_id,
            target_path=target_path,
            changes=changes,
        ),
    )


def record_local_refusal(
    database: Database,
    *,
    action: str,
    tenant_name: str | None,
    target_type: str,
    target_path: str | None,
    error: JobplanError,
) -> None:
    """An offline admin command that was refused (in a transaction of its own)."""
    try:
        with database.transaction() as conn:
            found = accounts.get_tenant_by_name(conn, tenant_name) if tenant_name else None
            row = _row(
                action=action,
                outcome=REFUSED,
                caller=None,
                tenant=(found.id, found.name) if found else None,
                actor_name=_local_actor(),
                auth_method=METHOD_LOCAL,
                target_type=target_type,
                target_path=target_path,
                message=error.message,
            )
            _insert(conn, row)
    except Exception as failure:
        log.error("audit_record_lost", action=action, error=str(failure))


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of a listing or export (``None``: any). ``action`` ending in a dot matches
    a family (``plan.``); ``target`` matches a target's id or path; ``until`` is exclusive."""

    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None
    request_id: str | None = None


_OUTCOMES = (DONE, REFUSED, FAILED)
_EXPORT_BATCH = 500


class AuditService:
    """Reading the audit log: supervisors and admins of a tenant read its records; system
    administrators also see sign-in failures that named no known tenant."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def _filter(self, caller: Caller, query: AuditQuery) -> AuditFilter:
        caller.require(Permission.AUDIT_READ)
        if query.outcome is not None and query.outcome not in _OUTCOMES:
            raise InvalidInput(f"must be one of {', '.join(_OUTCOMES)}", field="outcome")
        for name in ("since", "until"):
            value = getattr(query, name)
            if value is not None and value.tzinfo is None:
                raise InvalidInput("must include a UTC offset", field=name)
        if query.since and query.until and query.since >= query.until:
            raise InvalidInput("must be later than 'since'", field="until")
        return AuditFilter(
            tenant_id=caller.tenant_id,
            include_tenantless=caller.is_system_admin and caller.can(Permission.TENANTS_ADMIN),
            actor=query.actor or None,
            action=query.action or None,
            target_type=query.target_type or None,
            target=query.target or None,
            since=query.since,
            until=query.until,
            outcome=query.outcome,
            request_id=query.request_id or None,
        )

    def list(
        self, caller: Caller, query: AuditQuery, limit: int = 50, offset: int = 0
    ) -> Page[AuditRecord]:
        """A page of the caller's tenant's records, newest first."""
        where = self._filter(caller, query)
        check_page(limit, offset)
        with self._db.read() as conn:
            items, total = store.list_records(conn, where, limit, offset)
        return Page(items, total, limit, offset)

    def export(self, caller: Caller, query: AuditQuery) -> Iterator[AuditRecord]:
        """Every matching record, oldest first, read in batches (each batch its own short
        read: a long export holds no transaction open). Checks happen on the first call."""
        where = self._filter(caller, query)

        def records() -> Iterator[AuditRecord]:
            after: tuple[datetime, str] | None = None
            while True:
                with self._db.read() as conn:
                    batch = store.batch_after(conn, where, after, _EXPORT_BATCH)
                yield from batch
                if len(batch) < _EXPORT_BATCH:
                    return
                after = (batch[-1].time, batch[-1].id)

        return records()

    def answered(self, scope: AuditScope, status: int) -> None:
        """The request was answered with ``status``: refusals recorded with another status
        (an adapter answering in its own words) get the one the client saw."""
        wrong = [rid for rid, written in scope.refused.items() if written != status]
        if wrong and status >= 400:
            try:
                with self._db.transaction() as conn:
                    store.set_status(conn, wrong, status)
            except Exception as error:
                log.error("audit_status_not_corrected", error=str(error))

    def request_refused(self, scope: AuditScope, method: str, path: str, status: int) -> None:
        """A request refused before any service operation began (an authenticated caller's
        body the framework rejected, say): recorded as the action ``request``."""
        if scope.caller is None:
            return
        with audit_scope(scope):
            row = _row(
                action="request",
                outcome=REFUSED if status < 500 else FAILED,
                caller=scope.caller,
                target_type="route",
                target_path=f"{method} {path}",
                status=status,
                message=scope.refusal,
            )
            try:
                with self._db.transaction() as conn:
                    _insert(conn, row)
            except Exception as error:
                log.error("audit_record_lost", action="request", error=str(error))
