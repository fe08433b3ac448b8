"""Alarm notifications (``system/adapters/notify.py``): the webhook's body, and failures as BackendError.
(E-mail is tested against a real SMTP server in ``test_cloud_live.py``.)"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from system.adapters.notify import SmtpNotifier, WebhookNotifier
from system.errors import BackendError


def test_the_webhook_gets_subject_and_body_as_json():
    seen = []

    def hook(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(204)
    notifier = WebhookNotifier(httpx.AsyncClient(transport=httpx.MockTransport(hook)), "http://hooks.example/alarm")
    asyncio.run(notifier.notify("[match-day] pi: ALARM", "no heartbeat"))
    assert seen == [{"subject": "[match-day] pi: ALARM", "body": "no heartbeat"}]


@pytest.mark.parametrize("answer", [lambda r: httpx.Response(500), lambda r: (_ for _ in ()).throw(
    httpx.ConnectError("refused", request=r))])
def test_a_failing_webhook_is_a_backend_error(answer):
    notifier = WebhookNotifier(httpx.AsyncClient(transport=httpx.MockTransport(answer)), "http://hooks.example/a")
    with pytest.raises(BackendError):
        asyncio.run(notifier.notify("s", "b"))


def test_an_unreachable_smtp_server_is_a_backend_error():
    notifier = SmtpNotifier("127.0.0.1", 1, "cloud@localhost", "office@club.example", timeout=2.0)
    with pytest.raises(BackendError, match="SMTP 127.0.0.1:1"):
        asyncio.run(notifier.notify("s", "b"))
