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
        if config.ssl:
            client = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout_seconds, context=context,
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
        client.ehlo()
        if config.starttls and not config.ssl:
            client.starttls(context=context)
            client.ehlo()
        if config.username:
            password = config.password.get_secret_value() if config.password else ""
            client.login(config.username, password)
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
    except smtplib.SMTPAuthenticationError as exc:
        raise SendError(
            f"SMTP login failed: {_code_text(exc.smtp_code, exc.smtp_error)}",
            transient=False, response=_code_text(exc.smtp_code, exc.smtp_error),
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise _classify(exc.smtp_code, exc.smtp_error, "SMTP error") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise SendError(f"SMTP server does not support it: {exc}", transient=False) from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as exc:
        raise SendError(f"SMTP connection lost: {exc}", transient=True) from None
    except ssl.SSLError as exc:
        # Often temporary (a certificate being renewed): retried, then recorded as failed.
        verify = getattr(exc, "verify_message", None)
        reason = f"certificate verify failed: {verify}" if verify else (exc.reason or exc)
        raise SendError(f"SMTP TLS failed: {reason}", transient=True) from None
    except TimeoutError:
        raise SendError(
            f"SMTP timed out after {config.timeout_seconds:g}s talking to {config.host}:{config.port}",
            transient=True,
        ) from None
    except OSError as exc:
        raise SendError(
            f"cannot reach SMTP server {config.host}:{config.port}: {exc.strerror or exc}",
            transient=True,
        ) from None
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
