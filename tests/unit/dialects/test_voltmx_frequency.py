"""Volt MX ``jobFrequencyInfo`` <-> Quartz cron, and Volt MX bodies -> plan documents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from jobplan.api.dialects.voltmx_mapping import (
    FrequencyInfo,
    JobIn,
    cron_to_frequency,
    document_of,
    frequency_to_cron,
    job_detail,
    volt_field,
)
from jobplan.cron import CronExpression
from jobplan.model import PlanDocument

ROUND_TRIPS: list[tuple[dict[str, Any], str]] = [
    ({"frequencyType": 1, "minuteValues": [5]}, "0 5 * * * ? *"),
    ({"frequencyType": 1, "minuteValues": [0, 30]}, "0 0,30 * * * ? *"),
    ({"frequencyType": 1, "minuteValues": [10], "hourValues": [4]}, "0 10 */4 * * ? *"),
    ({"frequencyType": 2, "minuteValues": [0], "hourValues": [0]}, "0 0 0 * * ? *"),
    ({"frequencyType": 2, "minuteValues": [45], "hourValues": [6, 18]}, "0 45 6,18 * * ? *"),
    (
        {"frequencyType": 3, "minuteValues": [0], "hourValues": [8], "weekValues": [2, 3, 4]},
        "0 0 8 ? * 2,3,4 *",
    ),
    (
        {"frequencyType": 4, "minuteValues": [15], "hourValues": [3], "dayValues": [1]},
        "0 15 3 1 * ? *",
    ),
    (
        {
            "frequencyType": 4,
            "minuteValues": [0],
            "hourValues": [23],
            "dayValues": [1, 15],
            "monthValues": [1, 4, 7, 10],
        },
        "0 0 23 1,15 1,4,7,10 ? *",
    ),
]


@pytest.mark.parametrize(("info", "cron"), ROUND_TRIPS)
def test_frequency_becomes_a_valid_cron_and_back(info: dict[str, Any], cron: str) -> None:
    made = frequency_to_cron(FrequencyInfo.model_validate(info))
    assert made == cron
    CronExpression(made, "UTC")  # our cron engine accepts it
    assert cron_to_frequency(made) == info


def test_seed_samples() -> None:
    # "Get All Job Details": seconds are not part of jobFrequencyInfo
    assert cron_to_frequency("41 5 * * * ? *") == {"frequencyType": 1, "minuteValues": [5]}
    # "Create a Job": hour-based, every 1 hour, at minute 0
    info = FrequencyInfo.model_validate(
        {"frequencyType": 1, "minuteValues": [0], "hourValues": [1]}
    )
    assert frequency_to_cron(info) == "0 0 * * * ? *"
    assert cron_to_frequency("19 0 * * * ? *") == {"frequencyType": 1, "minuteValues": [0]}


def test_defaults_duplicates_and_day_names() -> None:
    def cron(**info: Any) -> str:
        return frequency_to_cron(FrequencyInfo.model_validate(info))

    assert cron(frequencyType=1) == "0 0 * * * ? *"
    assert cron(frequencyType=2, hourValues=[7]) == "0 0 7 * * ? *"
    assert (
        cron(frequencyType=2, minuteValues=[30, 5, 30], hourValues=[9, 1]) == "0 5,30 1,9 * * ? *"
    )
    assert cron(frequencyType=3, weekValues=["MON", "fri", "Sunday"]) == "0 0 0 ? * 1,2,6 *"
    assert cron(frequencyType=1, minuteValues=[0], dayValues=[]) == "0 0 * * * ? *"


@pytest.mark.parametrize(
    ("info", "fragment"),
    [
        ({"frequencyType": 1, "dayValues": [1]}, "dayValues is not used with frequencyType 1"),
        ({"frequencyType": 2, "weekValues": [1]}, "weekValues is not used with frequencyType 2"),
        ({"frequencyType": 1, "hourValues": [2, 4]}, "every N hours"),
        ({"frequencyType": 1, "hourValues": [0]}, "every N hours"),
        ({"frequencyType": 3}, "needs weekValues"),
        ({"frequencyType": 4, "hourValues": [1]}, "needs dayValues"),
    ],
)
def test_inconsistent_frequencies_are_refused(info: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        frequency_to_cron(FrequencyInfo.model_validate(info))


@pytest.mark.parametrize(
    "info",
    [
        {"frequencyType": 0},
        {"frequencyType": "1"},
        {"frequencyType": 1, "minuteValues": [60]},
        {"frequencyType": 1, "minuteValues": ["5"]},
        {"frequencyType": 2, "hourValues": [24]},
        {"frequencyType": 3, "weekValues": [8]},
        {"frequencyType": 3, "weekValues": ["XYZ"]},
        {"frequencyType": 4, "dayValues": [0]},
        {"frequencyType": 4, "dayValues": [1], "monthValues": [13]},
        {"frequencyType": 1, "secondValues": [1]},
    ],
)
def test_malformed_frequencies_are_validation_errors(info: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FrequencyInfo.model_validate(info)


@pytest.mark.parametrize(
    "cron",
    [
        None,
        "",
        "0 * * * * ?",  # every minute
        "0 0 12 * * ? 2030",  # a year
        "0/5 0 * * * ?",  # seconds step
        "0 0 12 L * ?",
        "0 0 12 ? * MON#2",
        "0 0 12 ? * MON-FRI",
        "0 0 9-17 * * ?",
        "0 0 */30 * * ?",
        "0 0 12 * 1 ?",  # a month without days
        "0 0 12 1 JAN ?",
        "0 0,0 12 * * ?",
        "not a cron",
    ],
)
def test_crons_without_a_frequency_form_give_none(cron: str | None) -> None:
    assert cron_to_frequency(cron) is None


def test_week_names_in_a_cron_come_back_as_numbers() -> None:
    assert cron_to_frequency("0 0 6 ? * MON,WED") == {
        "frequencyType": 3,
        "minuteValues": [0],
        "hourValues": [6],
        "weekValues": [2, 4],
    }


BODY: dict[str, Any] = {
    "jobName": "nightly",
    "jobServiceInfo": {
        "serviceType": "orchSer",
        "serviceName": "orders",
        "operationName": "sync",
        "postData": '{"a": [1, 2]}',
        "requestheaderMap": {"X-Trace": "1"},
    },
    "jobFrequencyInfo": {"frequencyType": 2, "hourValues": [2]},
}


def test_body_becomes_a_plan_with_one_service_job_and_back() -> None:
    document = PlanDocument.model_validate(document_of(JobIn.model_validate(BODY)))
    assert document.folder == "voltmx" and document.name == "nightly"
    assert document.window is not None and document.window.cron == "0 0 2 * * ? *"
    assert document.window.schedule().next_after(datetime(2026, 1, 1, tzinfo=UTC)) == datetime(
        2026, 1, 1, 2, tzinfo=UTC
    )
    assert document.policies.history.value == "FULL" and document.policies.retention_days == 30
    (job,) = document.jobs
    assert job.kind == "http" and job.service == "orders" and job.operation == "sync"
    assert job.body == {"a": [1, 2]} and job.headers == {"X-Trace": "1"}
    detail = job_detail(7, document, enabled=True)
    assert detail["jobFrequencyInfo"] == {
        "frequencyType": 2,
        "minuteValues": [0],
        "hourValues": [2],
    }
    assert detail["jobServiceInfo"]["postData"] == '{"a":[1,2]}'
    assert detail["jobServiceInfo"]["objectName"] == ""
    assert detail["jobStatus"] == "Active" and detail["retentionPeriod"] == "30"


def test_text_post_data_is_kept_as_text() -> None:
    body = {**BODY, "jobServiceInfo": {**BODY["jobServiceInfo"], "postData": "city=Paris"}}
    document = PlanDocument.model_validate(document_of(JobIn.model_validate(body)))
    assert document.jobs[0].body == "city=Paris"  # type: ignore[union-attr]
    assert job_detail(1, document, False)["jobServiceInfo"]["postData"] == "city=Paris"


def test_jobfrequency_wins_but_jobfrequencyinfo_is_still_checked() -> None:
    body = JobIn.model_validate({**BODY, "jobFrequency": "0 0 5 * * ?"})
    assert document_of(body)["window"]["cron"] == "0 0 5 * * ?"
    bad = JobIn.model_validate(
        {**BODY, "jobFrequency": "0 0 5 * * ?", "jobFrequencyInfo": {"frequencyType": 3}}
    )
    with pytest.raises(ValueError, match="weekValues"):
        document_of(bad)
    with pytest.raises(ValueError, match="jobFrequency"):
        document_of(JobIn.model_validate({**BODY, "jobFrequencyInfo": None}))


def test_plan_locations_are_named_as_volt_mx_fields() -> None:
    assert volt_field("window.cron") == "jobFrequency"
    assert volt_field("jobs[0].headers.X-A") == "jobServiceInfo.requestheaderMap.X-A"
    assert volt_field("policies.retention_days") == "retentionPeriod"
    assert volt_field("jobServiceInfo.serviceType") == "jobServiceInfo.serviceType"
