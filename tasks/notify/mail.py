"""Sending one email through SMTP (plain, STARTTLS or SSL; optional login)."""

from __future__ import annotations

import smtplib
import ssl
import time
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import getaddresses

from config.settings import SmtpConfig
from tasks.notify.outcome import SendError, Sent


def _code_text(code: int, text: bytes | str) -> str:
    body = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(body.split())}"


def _classify(code: int, text: bytes | str, what: str) -> SendError:
    response = _code_text(code, text)
    # 4xx: try again later (greylisting, mailbox busy); 5xx: the server said no for good.
    return SendError(f"{what}: {response}", transient=400 <= code < 500, response=response)


def envelope_sender(config: SmtpConfig) -> str:
    pairs = getaddresses([config.from_])
    return pairs[0][1] if pairs and pairs[0][1] else config.from_


def send_email(
    config: SmtpConfig,
    message: EmailMessage,
    recipients: list[str],
    *,
    tls_context: ssl.SSLContext | None = None,
) -> Sent:
    """Hand ``message`` to the SMTP server; returns its final answer (e.g. ``250 queued as …``).

    Raises :class:`SendError`. When some recipients are refused and others accepted, the
    message counts as sent and the refusals are part of the recorded response.
    ``tls_context`` defaults to the system's trust store with certificate verification.
    """
    client: smtplib.SMTP | None = None
    context = tls_context or ssl.create_default_context()
    try:
        client = _connect(config, context)
        _greet(client, config, context)
        refused = _envelope(client, config, recipients)
        code, text = client.data(message.as_bytes(policy=SMTP))
        accepted_at = time.perf_counter()
        if code != 250:
            raise _classify(code, text, "message refused")
        response = _code_text(code, text)
        if refused:
            response += " (refused: " + "; ".join(refused) + ")"
        # QUIT follows in `finally`; the duplicate window has already begun.
        return Sent(response=response, accepted_at=accepted_at)
    except SendError:
        raise
    except OSError as exc:  # smtplib's errors, TLS errors and timeouts are all OSErrors
        raise _send_error(exc, config) from None
    finally:
        if client is not None:
            _quit(client)


def _connect(config: SmtpConfig, context: ssl.SSLContext) -> smtplib.SMTP:
    if config.ssl:
        return smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_seconds, context=context)
    return smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)


def _greet(client: smtplib.SMTP, config: SmtpConfig, context: ssl.SSLContext) -> None:
    """EHLO, STARTTLS when asked (and not already on SSL), login when configured."""
    client.ehlo()
    if config.starttls and not config.ssl:
        client.starttls(context=context)
        client.ehlo()
    if config.username:
        password = config.password.get_secret_value() if config.password else ""
        client.login(config.username, password)


def _envelope(client: smtplib.SMTP, config: SmtpConfig, recipients: list[str]) -> list[str]:
    """MAIL FROM and one RCPT TO per recipient; returns the refusals. Raises when the sender
    or every recipient is refused (transient if any refusal was a 4xx)."""
    code, text = client.mail(envelope_sender(config))
    if code != 250:
        raise _classify(code, text, "sender refused")
    refused: list[str] = []
    accepted = 0
    transient_refusal = False
    for recipient in recipients:
        code, text = client.rcpt(recipient)
        if code in (250, 251):
            accepted += 1
        else:
            refused.append(f"{recipient}: {_code_text(code, text)}")
            transient_refusal = transient_refusal or 400 <= code < 500
    if not accepted:
        client.rset()
        raise SendError(
            "all recipients refused: " + "; ".join(refused),
            transient=transient_refusal, response="; ".join(refused),
        )
    return refused


def _send_error(exc: OSError, config: SmtpConfig) -> SendError:
    """What went wrong talking to the server, and whether trying again later can help."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        answer = _code_text(exc.smtp_code, exc.smtp_error)
        return SendError(f"SMTP login failed: {answer}", transient=False, response=answer)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _classify(exc.smtp_code, exc.smtp_error, "SMTP error")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SendError(f"SMTP server does not support it: {exc}", transient=False)
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return SendError(f"SMTP connection lost: {exc}", transient=True)
    if isinstance(exc, ssl.SSLError):
        # Often temporary (a certificate being renewed): retried, then recorded as failed.
        verify = getattr(exc, "verify_message", None)
        reason = f"certificate verify failed: {verify}" if verify else (exc.reason or exc)
        return SendError(f"SMTP TLS failed: {reason}", transient=True)
    where = f"{config.host}:{config.port}"
    if isinstance(exc, TimeoutError):
        return SendError(
            f"SMTP timed out after {config.timeout_seconds:g}s talking to {where}", transient=True
        )
    return SendError(f"cannot reach SMTP server {where}: {exc.strerror or exc}", transient=True)


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
