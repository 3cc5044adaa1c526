"""Sending notifications: webhooks with aiohttp, emails with the standard library's SMTP client.

* **Webhook**: ``POST`` of the message's payload as JSON, with headers ``X-Jobplan-Event`` and
  ``X-Jobplan-Delivery`` (the message id: delivery is at least once, so a receiver can drop
  repeats). Any ``2xx`` answer is success; anything else, or no answer within the timeout,
  is a failure to retry. Redirects are not followed (a webhook that moved is an error to fix).
* **Email**: a plain-text message through ``JOBPLAN_SMTP_HOST`` (optionally STARTTLS and
  login). Without a configured server every email fails with a reason that says so.

Failures are returned, never raised, with a reason fit for operators: credentials in a URL
are never part of it (nor of any log line).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import smtplib
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

import aiohttp

from jobplan import __version__
from jobplan.settings import Settings
from jobplan.store.records import NotificationRecord

__all__ = ["Deliverer", "DeliveryResult", "email_subject", "safe_url"]

_MAX_ERROR_BODY = 200


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    ok: bool
    error: str | None = None


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment (which may carry secrets); never raises
    (a URL that cannot be read is shown as its scheme and host only, or not at all)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]  # host[:port], brackets of IPv6 kept
        return f"{parts.scheme}://{netloc}{parts.path}"
    except ValueError:
        return "(unreadable URL)"


def email_subject(message: NotificationRecord) -> str:
    payload = message.payload
    what = {
        "run_started": "run started",
        "run_failed": f"run {payload.get('status', 'ERROR')}",
        "run_completed": "run completed",
        "run_overdue": "run overdue",
        "job_overdue": f"job '{payload.get('job', '?')}' overdue",
        "agent_offline": f"job '{payload.get('job', '?')}' waits for an offline agent",
    }.get(message.event, message.event)
    return f"[jobplan] {message.plan_path}: {what}"


def _email_body(message: NotificationRecord) -> str:
    lines = [email_subject(message), ""]
    for key, value in message.payload.items():
        if value is not None and value != []:
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            lines.append(f"{key}: {shown}")
    return "\n".join(lines) + "\n"


class Deliverer:
    """Delivers outbox messages. Use as ``async with Deliverer(settings) as deliverer``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        # its own threads: a slow mail server must not hold up the executors' thread pool
        self._mail_threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="jobplan-mail")

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.settings.notification_timeout_seconds),
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": f"jobplan/{__version__}"},
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._mail_threads.shutdown(wait=False, cancel_futures=True)

    async def deliver(self, message: NotificationRecord) -> DeliveryResult:
        """Send one message; the result says whether it got through and, if not, why. It
        never raises: a failure of any kind is a failed attempt, retried by the caller."""
        try:
            if message.channel == "webhook":
                return await self._post(message)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._mail_threads, self._send_email, message)
        except Exception as exc:  # an unexpected failure must not stall other deliveries
            return DeliveryResult(False, f"delivery failed: {type(exc).__name__}")

    async def _post(self, message: NotificationRecord) -> DeliveryResult:
        assert self._session is not None, "use the deliverer as an async context manager"
        target = safe_url(message.recipient)
        headers = {
            "Content-Type": "application/json",
            "X-Jobplan-Event": message.event,
            "X-Jobplan-Delivery": message.id,
        }
        try:
            async with self._session.post(
                message.recipient,
                data=json.dumps(message.payload).encode(),
                headers=headers,
                allow_redirects=False,
            ) as response:
                if 200 <= response.status < 300:
                    return DeliveryResult(True)
                body = (await response.content.read(_MAX_ERROR_BODY)).decode(errors="replace")
                detail = f": {body.strip()}" if body.strip() else ""
                return DeliveryResult(False, f"{target} answered {response.status}{detail}")
        except TimeoutError:
            seconds = self.settings.notification_timeout_seconds
            return DeliveryResult(False, f"{target} did not answer within {seconds:g} s")
        except aiohttp.InvalidURL:
            return DeliveryResult(False, f"{target} is not a valid URL")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            # the error's own text may quote the URL: never with its credentials or query
            reason = _describe(exc).replace(message.recipient, target)
            return DeliveryResult(False, f"{target} could not be reached: {reason}")

    def _send_email(self, message: NotificationRecord) -> DeliveryResult:
        settings = self.settings
        if not settings.smtp_host:
            return DeliveryResult(
                False, "no SMTP server is configured (set JOBPLAN_SMTP_HOST) to send email"
            )
        email = EmailMessage()
        email["From"] = settings.smtp_from
        email["To"] = message.recipient
        email["Subject"] = email_subject(message)
        email["X-Jobplan-Delivery"] = message.id
        email.set_content(_email_body(message))
        server = f"{settings.smtp_host}:{settings.smtp_port}"
        logs_in = bool(settings.smtp_username and settings.smtp_password is not None)
        if logs_in and not settings.smtp_starttls and not _is_loopback(settings.smtp_host):
            return DeliveryResult(
                False,
                f"refusing to send the SMTP password to {server} unencrypted: "
                "set JOBPLAN_SMTP_STARTTLS=true",
            )
        try:
            with smtplib.SMTP(
                settings.smtp_host,
                settings.smtp_port,
                timeout=settings.notification_timeout_seconds,
            ) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())  # verifies the server
                if logs_in:
                    assert settings.smtp_username and settings.smtp_password is not None
                    smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = "; ".join(
                f"{address}: {code} {text.decode(errors='replace')}"
                for address, (code, text) in exc.recipients.items()
            )
            return DeliveryResult(False, f"SMTP server {server} refused {refused}")
        except smtplib.SMTPResponseException as exc:
            raw = exc.smtp_error
            text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
            return DeliveryResult(False, f"SMTP server {server} refused: {exc.smtp_code} {text}")
        except (smtplib.SMTPException, OSError, UnicodeError) as exc:
            return DeliveryResult(False, f"SMTP server {server}: {_describe(exc)}")
        return DeliveryResult(True)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _describe(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__
