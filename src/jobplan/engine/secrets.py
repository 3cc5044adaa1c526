"""The ``secret`` namespace of references (``${secret:NAME}``): a tenant's secrets, read and
opened in the transaction that starts a job (see :mod:`jobplan.engine.context`)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from jobplan.model.substitution import TemplateError
from jobplan.store import secrets as store
from jobplan.store.secret_box import Sealed, SecretBox, SecretKeyError

__all__ = ["SecretSource"]


class SecretSource:
    """A :data:`~jobplan.engine.context.NamespaceSource` over the secrets table; ``box``
    (the key ring) is set by whoever holds the key (the services, at start)."""

    def __init__(self, box: SecretBox | None = None) -> None:
        self.box = box

    def __call__(self, conn: Connection, tenant_id: str) -> Callable[[str], str]:
        def lookup(name: str) -> str:
            record = store.get_secret(conn, tenant_id, name)
            if record is None:
                raise KeyError(name)  # "${secret:NAME}: no secret named 'NAME'"
            if self.box is None:
                raise TemplateError(f"${{secret:{name}}}: this node holds no secrets key")
            try:
                return self.box.open(tenant_id, name, Sealed(record.key_id, record.sealed))
            except SecretKeyError as exc:
                raise TemplateError(f"${{secret:{name}}}: {exc.message}") from None

        return lookup
