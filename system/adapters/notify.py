"""Alarm notifications, live: e-mail over SMTP and an HTTP webhook (both ``async notify(subject, body)``).

Failures are raised as :class:`~system.errors.BackendError` at this edge.
"""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

import httpx

from system.errors import BackendError


@dataclass(frozen=True)
class SmtpNotifier:
    """Sends one e-mail per alarm change to ``to`` (comma-separated) through ``host:port``.

    ``starttls`` upgrades the connection before logging in with ``user``/``password`` (if given).
    smtplib is blocking, so it runs in a worker thread.
    """

    host: str
    port: int
    sender: str
    to: str
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0

    async def notify(self, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, self.to, subject
        message.set_content(body)
        try:
            await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException) as exc:
            raise BackendError(f"SMTP {self.host}:{self.port}: {exc}") from exc

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)


class WebhookNotifier:
    """POSTs ``{"subject", "body"}`` as JSON to ``url``."""

    def __init__(self, client: httpx.AsyncClient, url: str):
        self.client, self.url = client, url

    async def notify(self, subject: str, body: str) -> None:
        try:
            response = await self.client.post(self.url, json={"subject": subject, "body": body})
        except httpx.HTTPError as exc:
            raise BackendError(f"webhook {self.url}: {exc}") from exc
        if response.status_code >= 300:
            raise BackendError(f"webhook {self.url}: HTTP {response.status_code}")
