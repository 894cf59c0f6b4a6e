"""Making feed text safe for the places it ends up: mail headers, HTML, Slack mrkdwn.

Feed titles and snippets are written by strangers. In a mail header a CR/LF would start a
new header (``Bcc:`` injection); in Slack ``<!channel>`` or ``@here`` would page a whole
channel. Every string from a feed passes through one of these before it is sent.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, urlsplit

# Line breaks Python's str.splitlines() knows, plus every other control character.
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_MENTION = re.compile(r"@(?=(channel|here|everyone)\b)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def one_line(text: str, limit: int = 200) -> str:
    """A single line without control characters, shortened with an ellipsis."""
    cleaned = _HEADER_UNSAFE.sub(" ", text or "")
    cleaned = "".join(ch if unicodedata.category(ch) != "Cc" else " " for ch in cleaned)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned


def safe_link(url: str) -> str | None:
    """The URL if it is an http(s) link, else None (no javascript:, data:, mailto: …)."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if _HEADER_UNSAFE.search(url) or " " in url:
        return None
    return url


def slack_escape(text: str) -> str:
    """Escape per Slack's rules (&, <, >) and defuse @channel/@here/@everyone."""
    escaped = (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@" + WORD_JOINER, escaped)


def slack_link(url: str, label: str) -> str:
    """``<url|label>`` with both parts safe; plain escaped text when the URL is not http(s)."""
    safe = safe_link(url)
    label_text = slack_escape(one_line(label, 150)).replace("|", "¦")
    if safe is None:
        return label_text
    # Inside <…>, '|' would end the URL and '>' the link: percent-encode them.
    target = quote(safe, safe=":/?#[]@!$&'()*+,;=%~-._").replace("&", "&amp;")
    return f"<{target}|{label_text}>"


def slack_plain_text(text: str, limit: int = 150) -> str:
    """Text for a Slack ``plain_text`` field (a header), on one line.

    plain_text is not parsed for mentions or links; defuse them anyway, in case a client
    does: angle brackets become look-alikes, ``@`` gets a word joiner.
    """
    inert = text.replace("<", "\u2039").replace(">", "\u203a").replace("@", "@" + WORD_JOINER)
    return one_line(inert, limit)
