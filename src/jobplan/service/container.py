"""The set of services one process uses, opened once from :class:`Settings`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from jobplan.engine.documents import VersionCache
from jobplan.engine.state import RunState
from jobplan.errors import InvalidInput, JobplanError
from jobplan.service.agent_protocol import AgentProtocol
from jobplan.service.agents import AgentService
from jobplan.service.api_keys import ApiKeyService
from jobplan.service.audit import AuditService
from jobplan.service.auth import AuthService
from jobplan.service.backfills import BackfillService
from jobplan.service.bootstrap import BootstrapResult, bootstrap_admin
from jobplan.service.bundles import BundleService
from jobplan.service.calendars import CalendarService
from jobplan.service.folders import FolderService
from jobplan.service.metrics import MetricsService
from jobplan.service.nodes import NodeService
from jobplan.service.notifications import NotificationService
from jobplan.service.overview import OverviewService
from jobplan.service.plans import PlanService
from jobplan.service.registry import ServiceRegistry
from jobplan.service.runs import RunService
from jobplan.service.secrets import SecretService, check_key_ring
from jobplan.service.security import PasswordHasher, load_or_create_signing_key
from jobplan.service.tenants import TenantService
from jobplan.service.transfers import TransferService
from jobplan.service.users import UserService
from jobplan.service.voltmx import VoltMxJobService
from jobplan.settings import Settings
from jobplan.store import Database
from jobplan.store.secret_box import load_key_ring

if TYPE_CHECKING:
    from jobplan.engine.engine import Engine

__all__ = ["Services"]


class Services:
    """Every service over one database. Adapters get this and nothing below it."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.passwords = PasswordHasher(settings)
        self.auth = AuthService(
            database,
            settings,
            load_or_create_signing_key(settings.home, settings.secret_key),
            self.passwords,
        )
        self.tenants = TenantService(database, self.passwords)
        self.users = UserService(
            database, self.passwords, on_password_change=self.auth.forget_cached_credentials
        )
        self.api_keys = ApiKeyService(database)
        self.folders = FolderService(database)
        self.versions = VersionCache()
        # this node's metrics: recorded by the engine, the transfer worker and the HTTP
        # adapters, in a registry of its own (never the library's global one)
        self.metrics = MetricsService(database, settings)
        # one run state for the services and the hosted engine: one cron cache, the lease
        # settings of this node
        self.state = RunState(
            self.versions,
            settings.lease_seconds,
            self.metrics.metrics,
            unknown_agents=settings.unknown_agents,
        )
        # the agent protocol (/api/v1/agent/*) and the registry (/api/v1/agents)
        self.agent_protocol = AgentProtocol(database, settings, self.state)
        self.agents = AgentService(
            database,
            settings.lease_seconds,
            state=self.state,
            unknown_agents=settings.unknown_agents,
            on_revoked=lambda: self.runs.notify(),  # the engine and waiting agents look again
        )
        # the key that seals secret values, outside the database; the engine opens them
        self.secrets = SecretService(database, load_key_ring(settings.home, settings.secrets_key))
        self.state.secrets.box = self.secrets.box
        self.plans = PlanService(database)
        self.runs = RunService(database, self.state, self.plans)
        self.backfills = BackfillService(database, self.state, self.plans)
        self.bundles = BundleService(self.plans)
        self.transfers = TransferService(
            database, settings, self.plans, self.runs, self.metrics.metrics
        )
        self.tenants.on_deleted.append(self.transfers.remove_tenant_files)
        self.registry = ServiceRegistry(database)
        self.notifications = NotificationService(database, self.plans)
        self.calendars = CalendarService(database, self.plans)
        self.overview = OverviewService(database, self.plans)
        self.nodes = NodeService(database, settings)
        self.voltmx = VoltMxJobService(database, self.plans, self.runs)
        self.audit = AuditService(database)
        self.bootstrap: BootstrapResult | None = None
        #: the engine running over these services, when started before the web application
        #: (``jobplan serve``): its lifespan then uses it instead of starting another
        self.engine: Engine | None = None
        self.connect_engine(lambda: None)

    def connect_engine(self, notify: Callable[[], None]) -> None:
        """Let changes made through the services wake the engine (and the agents waiting in
        a claim) at once."""
        hub = self.agent_protocol.hub

        def wake() -> None:
            notify()
            hub.wake()

        self.plans.notify = wake
        self.runs.notify = wake
        self.backfills.notify = wake

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Services:
        """Open the database (migrating it to the latest schema) and bootstrap the admin."""
        settings.ensure_home()
        database = Database(settings.effective_database_url)
        if database.dialect != "sqlite" and not settings.secret_key:
            database.dispose()
            raise InvalidInput(
                "must be set when several nodes share a PostgreSQL database, so that every "
                "node accepts the tokens the others issue",
                field="JOBPLAN_SECRET_KEY",
            )
        if migrate:
            database.upgrade()
        services = cls(settings, database)
        try:
            # a node whose secrets key is not the one the stored secrets are sealed with
            # would fail their jobs one by one: it does not start
            check_key_ring(database, services.secrets.box)
        except JobplanError:
            database.dispose()
            raise
        services.bootstrap = bootstrap_admin(database, settings, services.passwords)
        return services

    def close(self) -> None:
        self.database.dispose()
