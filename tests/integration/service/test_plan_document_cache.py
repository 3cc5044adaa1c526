"""Plan reads answer validated documents from a cache by version id: the same document the
plain path (``load_document`` of the stored version) gives, for every version."""

from __future__ import annotations

from jobplan.engine.documents import DocumentCache, load_document
from jobplan.model import PlanDocument
from jobplan.store import Database
from jobplan.store import plans as plan_store
from support.engine import Harness, cmd


def test_reads_answer_the_stored_document_of_each_version(database: Database) -> None:
    h = Harness(database)
    plan = h.plan("cached", jobs=[cmd("a")])
    first = h.plans.get(h.caller, plan.id)
    again = h.plans.get(h.caller, plan.id)
    assert again.document is first.document, "the second read is served from the cache"
    h.plans.apply(
        h.caller,
        PlanDocument.model_validate({"name": "cached", "jobs": [cmd("a"), cmd("b", "a")]}),
    )
    newest = h.plans.get(h.caller, plan.id)
    older = h.plans.get(h.caller, plan.id, first.version.version)
    assert [j.name for j in newest.document.jobs] == ["a", "b"]
    with database.read() as conn:
        for view in (first, again, newest, older):
            record = plan_store.get_version(conn, h.caller.tenant_id, plan.id, view.version.id)
            assert record is not None
            assert view.document == load_document(record)
    assert older.document == first.document


def test_the_cache_evicts_the_least_recently_used(database: Database) -> None:
    h = Harness(database)
    records = []
    for name in ("one", "two", "three"):
        plan = h.plan(name, jobs=[cmd("a")])
        records.append(h.plans.get(h.caller, plan.id).version)
    cache = DocumentCache(capacity=2)
    documents = [cache.document(r) for r in records]
    assert cache.document(records[2]) is documents[2]
    assert cache.document(records[0]) is not documents[0], "evicted, validated again"
    assert cache.document(records[0]) == load_document(records[0]) == documents[0]
