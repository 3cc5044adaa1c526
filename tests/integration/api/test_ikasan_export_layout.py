"""Ikasan exports in Ikasan's own layout (issue #11, item 10): the entry list of an exported
``MyFirstJobPlan`` has the shape of Ikasan's sample export, and jobplan's own facts ride in
the context's extension, where Ikasan does not look."""

from __future__ import annotations

import io
import json
import re
import zipfile
from itertools import groupby
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from jobplan.bundle import read_bundle
from support.api import ROOT_PASSWORD, ROOT_USER, Actor
from support.data import IKASAN_FIXTURES

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "my-first-job-plan.yaml"
AUTH = (ROOT_USER, ROOT_PASSWORD)


def _names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.namelist()


def _shape(names: list[str]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The root folder alone, and the entries inside it grouped by their folder in the order
    they come (the order of files inside one folder is Ikasan's hash order: sorted here)."""
    inside = [name.split("/", 1)[1] for name in names]
    groups = [
        (folder, sorted(group))
        for folder, group in groupby(inside, key=lambda name: name.rsplit("/", 1)[0] + "/")
    ]
    return [name.split("/", 1)[0] for name in names], groups


@pytest.fixture
def my_first_job_plan(client: TestClient, root: Actor) -> dict[str, object]:
    document = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    response = client.post("/api/v1/plans", headers=root.headers, json=document)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.mark.parametrize("route", ["/rest/export/context", "/rest/export/context/tokens"])
def test_the_export_has_the_entries_of_ikasans_sample(
    client: TestClient, my_first_job_plan: dict[str, object], route: str
) -> None:
    response = client.get(f"{route}/MyFirstJobPlan", auth=AUTH)
    assert response.status_code == 200, response.text
    ours = _names(response.content)
    sample = _names((IKASAN_FIXTURES / "MyFirstJobPlan.zip").read_bytes())
    roots, groups = _shape(ours)
    sample_roots, sample_groups = _shape(sample)
    assert len(set(roots)) == 1 and re.fullmatch(r"\d{13}-MyFirstJobPlan", roots[0])
    assert ours[0] == f"{roots[0]}/" and sample[0] == f"{sample_roots[0]}/"
    assert groups == sample_groups
    assert len(ours) == len(sample)


def test_the_export_reads_back_with_its_version_and_folder(
    client: TestClient, root: Actor, my_first_job_plan: dict[str, object]
) -> None:
    response = client.get("/rest/export/context/MyFirstJobPlan", auth=AUTH)
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        (context_name,) = [
            n for n in archive.namelist() if n.endswith("context/MyFirstJobPlan.json")
        ]
        context = json.loads(archive.read(context_name))
    record = context["jobplan"]["bundle"]
    assert record["format"] == "jobplan-bundle" and record["source_tenant"] == "default"
    contents = read_bundle(io.BytesIO(response.content))
    (plan,) = contents.plans
    stored = client.get(f"/api/v1/plans/{my_first_job_plan['id']}", headers=root.headers).json()
    assert plan.document.folder == stored["folder"]
    assert plan.version == stored["version"]
    assert plan.version_id is not None
