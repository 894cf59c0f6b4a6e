"""SMTP transport security against a real local server: STARTTLS with certificate checks,
never falling back to cleartext, login only over TLS."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.settings import SmtpConfig
from tasks.notify.mail import send_email
from tasks.notify.outcome import SendError
from tasks.notify.render import build_email, render_email
from tests.support.httpserver import tls_contexts
from tests.support.smtp import smtp_server
from tests.test_notify_render import view

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def message():
    v = view()
    return build_email(v, render_email(v), sender="alerts@example.org",
                       recipients=["desk@example.org"], date=datetime(2026, 11, 28, tzinfo=UTC))


def config(port: int, **extra: object) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, timeout_seconds=5, **extra)  # type: ignore[arg-type]


def test_starttls_with_a_trusted_certificate_and_login() -> None:
    server_tls, client_tls = tls_contexts("127.0.0.1")
    with smtp_server(tls=server_tls, username="nw", password="pw") as (handler, port):
        sent = send_email(config(port, starttls=True, username="nw", password="pw"), message(),
                          ["desk@example.org"], tls_context=client_tls)
    assert sent.response.startswith("250 2.0.0 Ok: queued as")
    assert len(handler.messages) == 1


def test_untrusted_certificate_is_refused_and_nothing_is_sent() -> None:
    server_tls, _ = tls_contexts("127.0.0.1")
    with smtp_server(tls=server_tls) as (handler, port), pytest.raises(SendError) as caught:
        send_email(config(port, starttls=True), message(), ["desk@example.org"])
    assert "SMTP TLS failed" in str(caught.value) and "certificate verify failed" in str(caught.value)
    assert caught.value.transient  # retried: certificates get fixed
    assert handler.messages == []


def test_no_cleartext_fallback_when_the_server_offers_no_starttls() -> None:
    with smtp_server() as (handler, port), pytest.raises(SendError) as caught:
        send_email(config(port, starttls=True), message(), ["desk@example.org"])
    assert not caught.value.transient
    assert "does not support" in str(caught.value).lower()
    assert handler.messages == []


def test_server_requiring_tls_refuses_a_cleartext_client_permanently() -> None:
    server_tls, _ = tls_contexts("127.0.0.1")
    with smtp_server(tls=server_tls) as (handler, port), pytest.raises(SendError) as caught:
        send_email(config(port, starttls=False), message(), ["desk@example.org"])
    assert str(caught.value).startswith("sender refused: 530") or "530" in str(caught.value)
    assert not caught.value.transient
    assert handler.messages == []


def test_wrong_password_is_permanent_and_never_echoed() -> None:
    server_tls, client_tls = tls_contexts("127.0.0.1")
    with (
        smtp_server(tls=server_tls, username="nw", password="pw") as (_, port),
        pytest.raises(SendError) as caught,
    ):
        send_email(config(port, starttls=True, username="nw", password="hunter2-secret"),
                   message(), ["desk@example.org"], tls_context=client_tls)
    assert "535" in str(caught.value) and "hunter2-secret" not in str(caught.value)
    assert not caught.value.transient
