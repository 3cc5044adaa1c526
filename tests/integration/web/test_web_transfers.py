"""Transfers in the console: export and download, import with a dry run and a conflict."""

from __future__ import annotations

import io
import re
import zipfile

from fastapi.testclient import TestClient

from support.api import Actor, sample_plan, wait_for


def _job_url(html: str) -> str:
    found = re.search(r'href="(/transfers/(?:ex|im)ports/[0-9a-f-]{36})"', html)
    assert found, html[:2000]
    return found.group(1)


def _finished(client: TestClient, url: str) -> str:
    def probe() -> str | None:
        html = client.get(f"{url}?fragment=true").text
        status = re.search(r'data-status="([a-z_]+)"', html)
        assert status
        return html if status.group(1) in ("completed", "failed", "cancelled") else None

    return wait_for(probe, 30, "the transfer job")


def test_export_then_download_the_bundle(client: TestClient, root: Actor, csrf: str) -> None:
    plan = client.post("/api/v1/plans/apply", headers=root.headers, json=sample_plan()).json()
    response = client.post(
        "/transfers/exports",
        data={"plan": plan["plan"]["id"], "with_tokens": "on"},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert response.status_code == 202, response.text
    html = _finished(client, _job_url(response.text))
    assert "completed" in html
    download = re.search(r'href="(/transfers/exports/[0-9a-f-]{36}/download)"', html)
    assert download
    bundle = client.get(download.group(1))
    assert bundle.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
    assert any(name.endswith("nightly.json") for name in names), names


def test_export_needs_a_selection(client: TestClient, csrf: str) -> None:
    response = client.post("/transfers/exports", data={"csrf_token": csrf})
    assert response.status_code == 400 and "choose at least one plan or folder" in response.text


def test_import_dry_run_shows_the_conflict_then_replace_imports(
    client: TestClient, root: Actor, csrf: str
) -> None:
    created = client.post("/api/v1/plans/apply", headers=root.headers, json=sample_plan())
    plan_id = created.json()["plan"]["id"]
    export = client.post(
        "/api/v1/exports", headers=root.headers, json={"plans": ["finance/eod/nightly"]}
    ).json()
    wait_for(
        lambda: (
            client.get(export["status_url"], headers=root.headers).json()["status"] == "completed"
        ),
        30,
        "the export",
    )
    bundle = client.get(f"/transfers/exports/{export['id']}/download").content
    changed = sample_plan(description="changed here")
    client.post("/api/v1/plans/apply", headers=root.headers, json=changed)

    def upload(dry_run: str, rule: str) -> str:
        response = client.post(
            "/transfers/imports",
            data={"dry_run": dry_run, "on_conflict": rule},
            files={"file": ("plans.zip", bundle, "application/zip")},
            headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
        )
        assert response.status_code == 202, response.text
        return _finished(client, _job_url(response.text))

    dry = upload("true", "abort")
    assert "nothing was changed" in dry and "conflict" in dry
    assert "<strong>Dry run</strong>" in dry
    assert "import (dry run)" in client.get("/transfers").text
    versions = client.get(f"/api/v1/plans/{plan_id}/versions", headers=root.headers).json()
    assert len(versions) == 2  # the dry run stored nothing
    done = upload("false", "replace")
    assert "What the import did" in done and "changed" in done
    versions = client.get(f"/api/v1/plans/{plan_id}/versions", headers=root.headers).json()
    assert len(versions) == 3


def test_import_refuses_a_missing_file_and_bad_tokens(client: TestClient, csrf: str) -> None:
    response = client.post(
        "/transfers/imports",
        data={"csrf_token": csrf, "on_conflict": "abort"},
        files={"file": ("", b"", "application/zip")},
    )
    assert response.status_code == 400 and "choose a bundle" in response.text
    response = client.post(
        "/transfers/imports",
        data={"csrf_token": csrf, "tokens": "no equals sign"},
        files={"file": ("b.zip", b"PK", "application/zip")},
    )
    assert response.status_code == 400 and "line 1: write name=value" in response.text
