"""Delivering notifications: webhooks to a real aiohttp server on 127.0.0.1, emails to a real
SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from jobplan.engine.delivery import Deliverer, DeliveryResult, safe_url
from jobplan.settings import Settings
from jobplan.store.records import NotificationRecord
from support.aioweb import serve_app

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


def message(recipient: str, channel: str = "webhook", **changes: Any) -> NotificationRecord:
    record = NotificationRecord(
        id="8a2d3c4e-0000-4000-8000-000000000001",
        tenant_id="t",
        plan_id="p",
        plan_path="finance/eod",
        plan_run_id="r",
        job_run_id=None,
        event="run_failed",
        channel=channel,
        recipient=recipient,
        payload={"event": "run_failed", "plan": "finance/eod", "status": "ERROR", "n": [1]},
        status="pending",
        attempts=0,
        next_attempt_at=NOW,
        owner_node=None,
        lease_until=None,
        last_error=None,
        created_at=NOW,
        sent_at=None,
    )
    return replace(record, **changes)


# --- webhooks ---------------------------------------------------------------------------------


class Receiver:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def hook(self, request: web.Request) -> web.Response:
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": dict(request.headers),
                "body": await request.text(),
            }
        )
        return web.Response(status=204)

    async def fail(self, request: web.Request) -> web.Response:
        return web.Response(status=503, text="down for maintenance")

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return web.Response(status=200)

    async def moved(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/hook")


def serve(receiver: Receiver) -> AbstractAsyncContextManager[str]:
    app = web.Application()
    app.router.add_post("/hook", receiver.hook)
    app.router.add_post("/fail", receiver.fail)
    app.router.add_post("/slow", receiver.slow)
    app.router.add_post("/moved", receiver.moved)
    return serve_app(app)


def deliver_to(path: str, settings: Settings | None = None) -> tuple[DeliveryResult, Receiver]:
    receiver = Receiver()

    async def main() -> DeliveryResult:
        async with serve(receiver) as base, Deliverer(settings or Settings()) as deliverer:
            return await deliverer.deliver(message(base + path))

    return asyncio.run(main()), receiver


def test_a_webhook_gets_the_payload_as_json_with_delivery_headers() -> None:
    result, receiver = deliver_to("/hook?token=abc")
    assert result == DeliveryResult(True)
    [request] = receiver.requests
    assert request["method"] == "POST" and request["path"] == "/hook"
    assert json.loads(request["body"]) == message("x").payload
    headers = request["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Jobplan-Event"] == "run_failed"
    assert headers["X-Jobplan-Delivery"] == message("x").id
    assert headers["User-Agent"].startswith("jobplan/")


def test_a_refusing_webhook_is_a_failure_with_its_status_and_body() -> None:
    result, _ = deliver_to("/fail")
    assert not result.ok
    assert result.error is not None
    assert result.error.endswith("/fail answered 503: down for maintenance")


def test_a_webhook_that_moved_is_not_followed() -> None:
    result, receiver = deliver_to("/moved")
    assert not result.ok and "answered 302" in (result.error or "")
    assert receiver.requests == []


def test_a_slow_webhook_times_out() -> None:
    result, _ = deliver_to("/slow", Settings(notification_timeout_seconds=0.3))
    assert result == DeliveryResult(False, result.error)
    assert (result.error or "").endswith("/slow did not answer within 0.3 s")


def test_unreachable_webhooks_never_leak_credentials_or_query() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://user:hunter2@127.0.0.1:{port}/hook?token=s3cret#frag"

    async def main() -> DeliveryResult:
        async with Deliverer(Settings()) as deliverer:
            return await deliverer.deliver(message(url))

    result = asyncio.run(main())
    assert not result.ok
    error = result.error or ""
    assert error.startswith(f"http://127.0.0.1:{port}/hook could not be reached")
    assert "hunter2" not in error and "s3cret" not in error and "user" not in error


def test_safe_url_keeps_scheme_host_port_and_path_only() -> None:
    assert safe_url("https://u:p@h.example:8443/a/b?x=1#f") == "https://h.example:8443/a/b"
    assert safe_url("http://h/") == "http://h/"
    assert safe_url("http://u:p@[::1]:8080/x?t=1") == "http://[::1]:8080/x"
    assert safe_url("http://[::1/x") == "(unreadable URL)"


def test_a_message_that_cannot_be_sent_at_all_is_a_failed_attempt_not_an_error() -> None:
    async def main() -> list[DeliveryResult]:
        async with Deliverer(Settings()) as deliverer:
            return [
                await deliverer.deliver(message("http://[::1/hook")),
                await deliverer.deliver(message("http://h.example:99999/hook?t=secret")),
            ]

    broken, bad_port = asyncio.run(main())
    assert not broken.ok and not bad_port.ok
    assert "secret" not in (bad_port.error or "")


# --- email --------------------------------------------------------------------------------------


class Inbox:
    def __init__(self, refuse: str | None = None) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.refuse = refuse

    async def handle_RCPT(  # aiosmtpd calls hooks by these names
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address == self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # aiosmtpd calls hooks by these names
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        self.received.append((str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 Message accepted"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox(refuse="nobody@example.com")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def send_email(settings: Settings, to: str) -> DeliveryResult:
    async def main() -> DeliveryResult:
        async with Deliverer(settings) as deliverer:
            return await deliverer.deliver(message(to, "email"))

    return asyncio.run(main())


def test_an_email_is_sent_through_the_configured_server(inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_from="jobs@corp.example")
    assert send_email(settings, "ops@example.com") == DeliveryResult(True)
    [(sender, recipients, content)] = handler.received
    assert (sender, recipients) == ("jobs@corp.example", ["ops@example.com"])
    mail = message_from_bytes(content)
    assert mail["Subject"] == "[jobplan] finance/eod: run ERROR"
    assert mail["X-Jobplan-Delivery"] == message("x").id
    body = mail.get_payload()
    assert isinstance(body, str)
    assert "status: ERROR" in body and "plan: finance/eod" in body


def test_a_refused_recipient_is_a_failure_naming_the_server(inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    result = send_email(Settings(smtp_host="127.0.0.1", smtp_port=port), "nobody@example.com")
    assert not result.ok
    assert result.error == (
        f"SMTP server 127.0.0.1:{port} refused nobody@example.com: 550 5.1.1 no such mailbox"
    )
    assert handler.received == []


def test_a_password_is_never_sent_to_a_remote_server_unencrypted() -> None:
    settings = Settings(smtp_host="mail.example.com", smtp_username="jobs", smtp_password="s3cret")
    result = send_email(settings, "ops@example.com")
    assert result == DeliveryResult(
        False,
        "refusing to send the SMTP password to mail.example.com:25 unencrypted: "
        "set JOBPLAN_SMTP_STARTTLS=true",
    )


def test_starttls_never_falls_back_to_cleartext(inbox: tuple[Inbox, int]) -> None:
    """A server that cannot start TLS gets nothing: the send fails, not continues in clear
    (the TLS context used is the default one, which verifies certificates and host names)."""
    handler, port = inbox
    settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=True)
    result = send_email(settings, "ops@example.com")
    assert not result.ok and (result.error or "").startswith(f"SMTP server 127.0.0.1:{port}")
    assert handler.received == []


def test_without_an_smtp_server_emails_fail_saying_what_to_set() -> None:
    result = send_email(Settings(), "ops@example.com")
    assert result == DeliveryResult(
        False, "no SMTP server is configured (set JOBPLAN_SMTP_HOST) to send email"
    )
