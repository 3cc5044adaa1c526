"""Authentication: OAuth 2 grants, access tokens (JWT), API keys, HTTP Basic.

Every credential resolves to a :class:`Caller` (tenant, user, role, scopes), looked up afresh
on each request so a disabled user, a removed membership or a revoked key stops working at once.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import Connection

from jobplan.errors import AuthenticationFailed, InvalidInput, JobplanError, PermissionDenied
from jobplan.logging import get_logger
from jobplan.model import Role
from jobplan.service import audit
from jobplan.service.caller import AgentIdentity, Caller
from jobplan.service.security import (
    PasswordHasher,
    constant_time_equal,
    new_secret,
    sha256_hex,
)
from jobplan.service.throttle import LoginThrottle
from jobplan.settings import Settings
from jobplan.store import Database, accounts, credentials, new_id
from jobplan.store import agents as agent_store
from jobplan.store.records import ApiKeyRecord, UserRecord

__all__ = [
    "AGENT_KEY_PREFIX",
    "AGENT_ONLY",
    "API_KEY_PREFIX",
    "AuthService",
    "ConsoleSession",
    "TokenPair",
    "parse_agent_key",
    "parse_api_key",
]

API_KEY_PREFIX = "jp_"
#: Agent keys (``jpa_<agent id>_<secret>``): told apart from API keys by their prefix.
AGENT_KEY_PREFIX = "jpa_"
#: What every API other than the agent protocol answers an agent key (403).
AGENT_ONLY = (
    "an agent key opens only the agent protocol (/api/v1/agent/...); use a user's "
    "credentials or API key for this API"
)
REFRESH_PREFIX = "jprt_"
_ISSUER = "jobplan"
log = get_logger(__name__)
_LAST_USED_RESOLUTION = timedelta(seconds=60)
_BASIC_CACHE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a successful grant returns."""

    access_token: str
    expires_in: int
    refresh_token: str | None
    tenant: str
    scope: str | None


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A signed-in browser: the cookie value, its CSRF token and when it expires."""

    cookie: str
    csrf_token: str
    expires_at: datetime
    caller: Caller


def _throttle_key(kind: str, value: str) -> str:
    """A login throttle key (``user:<name>``, ``user:<tenant>/<name>``, ``addr:<ip>``), case
    folded; long ones are hashed to fit the table's key column."""
    key = f"{kind}:{value.lower()}"
    return key if len(key) <= 120 else f"{kind}:sha256:{sha256_hex(value.lower())}"


def parse_api_key(key: str) -> tuple[str, str] | None:
    """Split ``jp_<key id>_<secret>`` into its id and secret; ``None`` if not key-shaped."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    key_id, sep, secret = key[len(API_KEY_PREFIX) :].partition("_")
    if not sep or not key_id or not secret:
        return None
    return key_id, secret


def parse_agent_key(key: str) -> tuple[str, str] | None:
    """Split ``jpa_<agent id>_<secret>`` into the agent's id and the secret; ``None`` if not
    agent-key-shaped."""
    if not key.startswith(AGENT_KEY_PREFIX):
        return None
    agent_id, sep, secret = key[len(AGENT_KEY_PREFIX) :].partition("_")
    if not sep or not agent_id or not secret:
        return None
    return agent_id, secret


class AuthService:
    """Grants and credential checks for one database."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        signing_key: bytes,
        passwords: PasswordHasher,
    ) -> None:
        self._db = database
        self._passwords = passwords
        self._settings = settings
        self._key = signing_key
        self.throttle = LoginThrottle(
            database, settings.login_max_failures, settings.login_window_seconds
        )
        # credentials digest -> (user id, tenant id, password hash it was checked against, expiry)
        self._basic_cache: dict[str, tuple[str, str, str, float]] = {}
        self._basic_lock = threading.Lock()

    # --- grants ---------------------------------------------------------------------------

    def password_grant(
        self, username: str, password: str, tenant: str | None, client_address: str
    ) -> TokenPair:
        """Log in with user name and password; issues an access and a refresh token. Every
        attempt is in the audit log (the success in the transaction issuing the tokens)."""
        caller = self._login(audit.METHOD_PASSWORD, username, password, tenant, client_address)
        with self._db.transaction() as conn:
            audit.record_login(
                self._db, method=audit.METHOD_PASSWORD, username=username, caller=caller, conn=conn
            )
            return self._issue_in(conn, caller, family_id=None)

    def refresh_grant(self, refresh_token: str) -> TokenPair:
        """Exchange a refresh token for a new pair. A token works once: presenting a used one
        revokes its whole family (it was stolen, or the client is replaying)."""
        try:
            return self._refresh(refresh_token)
        except JobplanError as exc:
            audit.record_login(self._db, method=audit.METHOD_REFRESH, username=None, error=exc)
            _log_failed(audit.METHOD_REFRESH, exc)
            raise

    def _refresh(self, refresh_token: str) -> TokenPair:
        token_hash = sha256_hex(refresh_token)
        with self._db.transaction() as conn:
            record = credentials.get_refresh_token_by_hash(conn, token_hash)
            if record is None:
                raise AuthenticationFailed("refresh token is invalid")
            if record.revoked_at is not None:
                raise AuthenticationFailed("refresh token has been revoked")
            if record.used_at is not None or not credentials.mark_refresh_token_used(
                conn, record.id
            ):
                credentials.revoke_refresh_family(conn, record.family_id)
                reused = True
            else:
                reused = False
                if record.expires_at <= datetime.now(UTC):
                    raise AuthenticationFailed("refresh token has expired")
                caller = self._caller(conn, record.user_id, tenant_id=record.tenant_id)
                pair = self._issue_in(conn, caller, family_id=record.family_id)
        if reused:
            # committed above: the family stays revoked even though this request fails
            raise AuthenticationFailed(
                "refresh token was already used; every token of its family is now revoked"
            )
        return pair

    def client_credentials_grant(self, client_id: str, client_secret: str) -> TokenPair:
        """Exchange an API key (id + secret) for an access token with the key's scopes."""
        if parse_agent_key(client_secret) is not None:
            self.authenticate_agent(client_secret)
            raise PermissionDenied(AGENT_ONLY)
        secret = client_secret
        parsed = parse_api_key(client_secret)
        method = audit.METHOD_CLIENT_CREDENTIALS
        try:
            if parsed is not None:
                if parsed[0] != client_id:
                    raise AuthenticationFailed("client_id does not match the key")
                secret = parsed[1]
            caller = self._api_key_caller(f"{API_KEY_PREFIX}{client_id}_{secret}")
        except JobplanError as exc:
            key_id = client_id[:64] or None
            audit.record_login(self._db, method=method, username=None, error=exc, key_id=key_id)
            _log_failed(method, exc, key_id=key_id)
            raise
        audit.record_login(self._db, method=method, username=caller.username, caller=caller)
        token, expires_in = self._access_token(caller)
        scope = " ".join(sorted(caller.scopes)) if caller.scopes is not None else None
        return TokenPair(token, expires_in, None, caller.tenant_name, scope)

    # --- console sessions -----------------------------------------------------------------
    # A session is a signed cookie naming a refresh-token family. The family's one row is
    # created already used, so its (never disclosed) secret cannot be exchanged for tokens;
    # signing out, a password change or removal from the tenant revokes the family, which
    # ends the session on every node at once.

    def open_console_session(
        self, username: str, password: str, tenant: str | None, client_address: str
    ) -> ConsoleSession:
        """Sign a browser in with user name and password (throttled like every login)."""
        caller = self._login(audit.METHOD_CONSOLE, username, password, tenant, client_address)
        session_id = new_id()
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=self._settings.console_session_ttl_seconds)
        with self._db.transaction() as conn:
            record = credentials.insert_refresh_token(
                conn,
                session_id,
                caller.user_id,
                caller.tenant_id,
                sha256_hex(new_secret(32)),
                expires,
            )
            credentials.mark_refresh_token_used(conn, record.id)
            audit.record_login(
                self._db, method=audit.METHOD_CONSOLE, username=username, caller=caller, conn=conn
            )
        claims = {
            "iss": _ISSUER,
            "sub": caller.user_id,
            "tid": caller.tenant_id,
            "sid": session_id,
            "typ": "console",
            "iat": now,
            "exp": expires,
        }
        cookie = jwt.encode(claims, self._key, algorithm="HS256")
        return ConsoleSession(cookie, self.csrf_token(session_id), expires, caller)

    def console_session(self, cookie: str) -> ConsoleSession:
        """Resolve a session cookie; raises :class:`AuthenticationFailed` when it has
        expired, was signed out, or its user may no longer act in its tenant."""
        claims = self._decode(cookie, "console", ("sid",), "session", "; sign in again")
        session_id = str(claims["sid"])
        with self._db.read() as conn:
            if not credentials.refresh_family_active(conn, session_id, datetime.now(UTC)):
                raise AuthenticationFailed("session has ended; sign in again")
            caller = self._caller(conn, claims["sub"], tenant_id=claims["tid"])
        audit.note_authenticated(caller, audit.METHOD_CONSOLE)
        expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
        return ConsoleSession(cookie, self.csrf_token(session_id), expires, caller)

    def close_console_session(self, cookie: str) -> None:
        """Sign out: the session's family is revoked (a no-op for an unreadable cookie)."""
        try:
            claims = jwt.decode(
                cookie, self._key, algorithms=["HS256"], options={"verify_exp": False}
            )
        except jwt.InvalidTokenError:
            return
        if claims.get("typ") == "console" and isinstance(claims.get("sid"), str):
            with self._db.transaction() as conn:
                credentials.revoke_refresh_family(conn, claims["sid"])

    def csrf_token(self, session_id: str) -> str:
        """The CSRF token bound to a session: an HMAC of its id under the signing key."""
        return hmac.new(self._key, f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()

    # --- per-request authentication -------------------------------------------------------

    def authenticate_access_token(self, token: str) -> Caller:
        """Check a JWT access token and resolve its caller."""
        claims = self._decode(token, "access", ("iat",), "access token")
        key_id = claims.get("kid")
        with self._db.read() as conn:
            if key_id is not None:
                self._usable_key(credentials.get_api_key(conn, key_id), key_id)
            scopes = claims.get("scp")
            caller = self._caller(
                conn,
                claims["sub"],
                tenant_id=claims["tid"],
                scopes=frozenset(scopes) if scopes is not None else None,
                api_key_id=key_id,
            )
        audit.note_authenticated(caller, audit.METHOD_BEARER)
        return caller

    def authenticate_secret(self, secret: str) -> Caller:
        """An API key if ``secret`` is key-shaped (``jp_...``), else an access token: for
        dialects whose one credential header takes either. An agent key (``jpa_...``) is
        checked (a wrong or revoked one is :class:`AuthenticationFailed`, 401) and then
        refused with :class:`PermissionDenied` (403): it opens only the agent protocol."""
        if parse_agent_key(secret) is not None:
            self.authenticate_agent(secret)
            raise PermissionDenied(AGENT_ONLY)
        if parse_api_key(secret) is not None:
            return self.authenticate_api_key(secret)
        return self.authenticate_access_token(secret)

    def authenticate_api_key(self, key: str) -> Caller:
        """Check an API key (``jp_<id>_<secret>``) and resolve its caller. Failures are in
        the audit log (with the key's id, never its secret); successes are not, as they
        happen on every request."""
        try:
            caller = self._api_key_caller(key)
        except JobplanError as exc:
            parsed = parse_api_key(key)
            key_id = parsed[0][:64] if parsed else None
            audit.record_login(
                self._db, method=audit.METHOD_API_KEY, username=None, error=exc, key_id=key_id
            )
            _log_failed(audit.METHOD_API_KEY, exc, key_id=key_id)
            raise
        audit.note_authenticated(caller, audit.METHOD_API_KEY)
        return caller

    def authenticate_agent(self, key: str) -> AgentIdentity:
        """Check an agent key (``jpa_<agent id>_<secret>``) and resolve the agent, looked up
        afresh on each request so a revoked agent is refused at once. Only the agent protocol
        may call this; every other API refuses agent keys (:meth:`authenticate_secret`)."""
        parsed = parse_agent_key(key)
        if parsed is None:
            raise AuthenticationFailed("agent key is malformed: expected jpa_<id>_<secret>")
        agent_id, secret = parsed[0][:64], parsed[1]
        try:
            with self._db.read() as conn:
                record = agent_store.get_agent(conn, agent_id)
            if record is None or not constant_time_equal(record.key_hash, sha256_hex(secret)):
                raise AuthenticationFailed("agent key is invalid")
            if record.revoked_at is not None:
                raise AuthenticationFailed(f"agent '{record.name}' has been revoked")
        except JobplanError as exc:
            # in the audit log with the agent's id, never the secret (as for API keys)
            method = audit.METHOD_AGENT_KEY
            audit.record_login(self._db, method=method, username=None, error=exc, key_id=agent_id)
            _log_failed(method, exc, key_id=agent_id)
            raise
        return AgentIdentity(record.id, record.name, record.tenant_id, tuple(record.labels))

    def _api_key_caller(self, key: str) -> Caller:
        parsed = parse_api_key(key)
        if parsed is None:
            raise AuthenticationFailed("API key is malformed")
        key_id, secret = parsed
        now = datetime.now(UTC)
        with self._db.read() as conn:
            record = credentials.get_api_key(conn, key_id)
            if record is None or not constant_time_equal(record.secret_hash, sha256_hex(secret)):
                raise AuthenticationFailed("API key is invalid")
            record = self._usable_key(record, key_id)
            caller = self._caller(
                conn,
                record.user_id,
                tenant_id=record.tenant_id,
                scopes=frozenset(record.scopes) if record.scopes is not None else None,
                api_key_id=key_id,
            )
        if record.last_used_at is None or now - record.last_used_at > _LAST_USED_RESOLUTION:
            with self._db.transaction() as conn:  # a write at most once a minute per key
                credentials.touch_api_key(conn, key_id, now)
        return caller

    def authenticate_basic(
        self, username: str, password: str, tenant: str | None, client_address: str
    ) -> Caller:
        """HTTP Basic. Successful checks are remembered briefly (by a hash of the
        credentials) so scripts sending Basic on every request do not pay argon2 each time.
        Failures are in the audit log; successes are not (they happen on every request)."""
        # the tenant is part of the key: tenant A's "bob" never answers for tenant B's, and a
        # login without a tenant is told apart from one naming it
        cache_key = hashlib.sha256(
            f"{username}\0{password}\0{'+' + tenant if tenant else '-'}".encode()
        ).hexdigest()
        now = time.monotonic()
        with self._basic_lock:
            cached = self._basic_cache.get(cache_key)
        if cached is not None and cached[3] > now:
            with self._db.read() as conn:
                user = accounts.get_user(conn, cached[0])
                # a changed password (on any node, or offline) invalidates the entry
                if user is not None and user.password_hash == cached[2]:
                    caller = self._caller(conn, user.id, tenant_id=cached[1], user=user)
                    audit.note_authenticated(caller, audit.METHOD_BASIC)
                    return caller
        try:
            caller, password_hash = self._check_password_hash(
                username, password, tenant, client_address
            )
        except JobplanError as exc:
            audit.record_login(
                self._db,
                method=audit.METHOD_BASIC,
                username=username,
                tenant_name=tenant,
                error=exc,
            )
            _log_failed(
                audit.METHOD_BASIC, exc, user=username, tenant=tenant, client=client_address
            )
            raise
        audit.note_authenticated(caller, audit.METHOD_BASIC)
        with self._basic_lock:
            if len(self._basic_cache) > 10_000:
                self._basic_cache.clear()
            self._basic_cache[cache_key] = (
                caller.user_id,
                caller.tenant_id,
                password_hash,
                now + _BASIC_CACHE_SECONDS,
            )
        return caller

    def forget_cached_credentials(self) -> None:
        """Drop remembered Basic credentials (after a password change)."""
        with self._basic_lock:
            self._basic_cache.clear()

    # --- internals ------------------------------------------------------------------------

    def _decode(
        self,
        token: str,
        kind: str,
        required: tuple[str, ...],
        what: str,
        advice: str = "",
    ) -> dict[str, Any]:
        """The claims of one of our JWTs of type ``kind``, or :class:`AuthenticationFailed`
        ("<what> has expired" / "<what> is invalid", then ``advice``)."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=_ISSUER,
                options={"require": ["exp", "sub", "tid", "typ", *required]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationFailed(f"{what} has expired{advice}") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthenticationFailed(f"{what} is invalid{advice}") from exc
        if claims.get("typ") != kind:
            raise AuthenticationFailed(f"{what} is invalid{advice}")
        return claims

    def _login(
        self, method: str, username: str, password: str, tenant: str | None, client_address: str
    ) -> Caller:
        """An interactive sign-in's password check; a failure is audited here."""
        try:
            return self._check_password_hash(username, password, tenant, client_address)[0]
        except JobplanError as exc:
            audit.record_login(
                self._db, method=method, username=username, tenant_name=tenant, error=exc
            )
            _log_failed(method, exc, user=username, tenant=tenant, client=client_address)
            raise

    def _check_password_hash(
        self, username: str, password: str, tenant: str | None, client_address: str
    ) -> tuple[Caller, str]:
        """Check a password login; the caller and the hash the password matched.

        User names are unique per tenant, so the account is the member of ``tenant`` with
        that name. Without a tenant, it is the admin tenant's (``JOBPLAN_ADMIN_TENANT``)
        member of that name, else the account whose name is unique on the server
        (``global_name``: from before names were per tenant, or made offline). Never a match
        among other tenants' accounts: its answer would tell whether another tenant has one of
        that name (and a tenant admin could set their own user's password to probe another's).
        Every path verifies the same number of hashes whether an account exists or not.

        A client that cannot send a tenant (an Ikasan client's HTTP Basic) may name it in
        the user name, ``<tenant>/<name>``: user names have no ``/``."""
        if parse_agent_key(password) is not None:
            # an agent key given as a password (HTTP Basic, a sign-in form): refused clearly.
            # Something merely shaped like one may still be someone's password.
            try:
                self.authenticate_agent(password)
            except AuthenticationFailed:
                pass
            else:
                raise PermissionDenied(AGENT_ONLY)
        if not tenant and "/" in username:
            tenant, _, username = username.partition("/")
        address_key = _throttle_key("addr", client_address)
        if tenant:
            user_key = _throttle_key("user", f"{tenant}/{username}")
            # counted as a failure up front, atomically: concurrent guesses cannot overrun it
            attempt = self.throttle.attempt(user_key, address_key)
            with self._db.read() as conn:
                found = accounts.get_tenant_by_name(conn, tenant)
                user = accounts.get_member_by_username(conn, found.id, username) if found else None
            if self._accepts(user, password) and user is not None and found is not None:
                self.throttle.succeeded(attempt)
                with self._db.read() as conn:
                    caller = self._caller(conn, user.id, tenant_id=found.id, user=user)
                return caller, user.password_hash
            raise AuthenticationFailed("user name, password or tenant is wrong")
        # the key is shared by every tenant's user of this name: a success withdraws only
        # its own attempt, it does not clear others' failures
        attempt = self.throttle.attempt(_throttle_key("user", username), address_key)
        with self._db.read() as conn:
            home = accounts.get_tenant_by_name(conn, self._settings.admin_tenant)
            member = accounts.get_member_by_username(conn, home.id, username) if home else None
            legacy = accounts.get_global_user(conn, username)
        if self._accepts(member, password) and member is not None and home is not None:
            self.throttle.succeeded(attempt, clear_user=False)
            with self._db.read() as conn:
                caller = self._caller(conn, member.id, tenant_id=home.id, user=member)
            return caller, member.password_hash
        if legacy is not None and member is not None and legacy.id == member.id:
            legacy = None  # checked already; spend the same time on nothing
        if self._accepts(legacy, password) and legacy is not None:
            self.throttle.succeeded(attempt, clear_user=False)
            with self._db.read() as conn:
                return self._caller(conn, legacy.id, user=legacy), legacy.password_hash
        raise AuthenticationFailed(
            "user name or password is wrong (users of a tenant other than the server's "
            "default one sign in naming their tenant)"
        )

    def _accepts(self, user: UserRecord | None, password: str) -> bool:
        """Whether ``password`` is ``user``'s and the account may sign in (one hash
        verification in any case)."""
        ok = self._passwords.verify(password, user.password_hash if user else None)
        return ok and user is not None and not user.disabled

    def _caller(
        self,
        conn: Connection,
        user_id: str,
        *,
        tenant_id: str | None = None,
        tenant_name: str | None = None,
        scopes: frozenset[str] | None = None,
        api_key_id: str | None = None,
        user: UserRecord | None = None,
    ) -> Caller:
        user = user or accounts.get_user(conn, user_id)
        if user is None or user.disabled:
            raise AuthenticationFailed("user is unknown or disabled")
        if tenant_id is None:
            tenant_id = self._pick_tenant(conn, user, tenant_name)
        tenant = accounts.get_tenant(conn, tenant_id)
        membership = accounts.get_membership(conn, user.id, tenant_id)
        if tenant is None or membership is None:
            raise AuthenticationFailed("user is not a member of this tenant")
        return Caller(
            user_id=user.id,
            username=user.username,
            tenant_id=tenant.id,
            tenant_name=tenant.name,
            role=Role(membership.role),
            is_system_admin=user.is_system_admin,
            scopes=scopes,
            api_key_id=api_key_id,
        )

    @staticmethod
    def _pick_tenant(conn: Connection, user: UserRecord, tenant_name: str | None) -> str:
        memberships = accounts.list_memberships_of_user(conn, user.id)
        if tenant_name:
            for membership, name in memberships:
                if name == tenant_name:
                    return membership.tenant_id
            raise AuthenticationFailed(f"user is not a member of tenant '{tenant_name}'")
        if not memberships:
            raise AuthenticationFailed("user is not a member of any tenant")
        if len(memberships) > 1:
            names = ", ".join(name for _, name in memberships)
            raise InvalidInput(
                f"user belongs to several tenants ({names}); name one", field="tenant"
            )
        return memberships[0][0].tenant_id

    @staticmethod
    def _usable_key(key: ApiKeyRecord | None, key_id: str) -> ApiKeyRecord:
        if key is None:
            raise AuthenticationFailed("API key is invalid")
        if key.revoked_at is not None:
            raise AuthenticationFailed(f"API key '{key_id}' has been revoked")
        if key.expires_at is not None and key.expires_at <= datetime.now(UTC):
            raise AuthenticationFailed(f"API key '{key_id}' has expired")
        return key

    def _access_token(self, caller: Caller) -> tuple[str, int]:
        ttl = self._settings.access_token_ttl_seconds
        now = datetime.now(UTC)
        claims: dict[str, object] = {
            "iss": _ISSUER,
            "sub": caller.user_id,
            "tid": caller.tenant_id,
            "typ": "access",
            "iat": now,
            "exp": now + timedelta(seconds=ttl),
            "jti": new_secret(12),
        }
        if caller.scopes is not None:
            claims["scp"] = sorted(caller.scopes)
        if caller.api_key_id is not None:
            claims["kid"] = caller.api_key_id
        return jwt.encode(claims, self._key, algorithm="HS256"), ttl

    def _issue_in(self, conn: Connection, caller: Caller, family_id: str | None) -> TokenPair:
        access, expires_in = self._access_token(caller)
        refresh = REFRESH_PREFIX + new_secret(32)
        credentials.insert_refresh_token(
            conn,
            family_id or new_id(),
            caller.user_id,
            caller.tenant_id,
            sha256_hex(refresh),
            datetime.now(UTC) + timedelta(seconds=self._settings.refresh_token_ttl_seconds),
        )
        return TokenPair(access, expires_in, refresh, caller.tenant_name, None)


def _log_failed(
    method: str,
    error: JobplanError,
    *,
    user: str | None = None,
    tenant: str | None = None,
    client: str | None = None,
    key_id: str | None = None,
) -> None:
    """The ``login.failed`` event: who tried, how, from where, and why it failed. Never the
    password, nor a key's or token's secret (a key is named by its id)."""
    fields: dict[str, object] = {"user": user, "tenant": tenant, "client": client}
    if key_id is not None:
        fields = {"key_id": key_id}
    log.warning("login.failed", method=method, reason=error.message, **fields)
