"""Canonical URLs: one spelling per article, and a lossy key for "same article, other URL".

``canonical_url`` is the strict form stored as ``Article.canonical_url`` (unique): it only
removes what never changes the page (tracking parameters, fragments, default ports, case
of scheme and host, parameter order). ``story_url_key`` is deliberately lossy (AMP and
mobile variants, ``www.``, scheme, trailing slash) and is used only to *find* an article
already stored under another URL, never as an identity.

Both are pure, idempotent and never raise: a string they cannot parse comes back stripped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["canonical_url", "story_url_key", "is_tracking_param"]

# Query parameters that only say where a click came from. Compared lower-cased.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "ttclid", "igshid", "igsh", "mc_cid", "mc_eid", "ocid", "cmpid", "cmp", "icid",
        "s_cid", "s_kwcid", "_ga", "_gl", "ref_src", "ref_url", "smid", "smtyp", "xtor",
        "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "ncid",
        "sr_share", "soc_src", "soc_trk", "wt.mc_id", "wt_mc", "mkt_tok", "oly_enc_id",
        "oly_anon_id", "vero_id", "__twitter_impression", "rss", "cid_source",
    }
)
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hsa_", "_hs")

# Extra parameters the lossy story key ignores: AMP switches and loose referrers.
LOSSY_PARAMS = frozenset({"amp", "outputtype", "output", "ref", "source", "src", "from"})
LOSSY_HOST_PREFIXES = ("www.", "m.", "mobile.", "amp.")
DEFAULT_PORTS = {"http": "80", "https": "443"}
AMP_CACHE_SUFFIX = ".cdn.ampproject.org"
_AMP_CACHE_PATH = re.compile(r"^/(?:c|v|i)/(?:s/)?(?P<rest>.+)$")


def is_tracking_param(name: str) -> bool:
    """Whether a query parameter name is click tracking (never changes the page)."""
    key = unquote(name).strip().lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _split_netloc(netloc: str) -> tuple[str, str, str] | None:
    """(userinfo, host, port) from a netloc, or None when the port is not a number."""
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        userinfo = ""
    if hostport.startswith("["):  # IPv6 literal
        end = hostport.find("]")
        if end < 0:
            return None
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:]
    else:
        host, _, port = hostport.partition(":")
    if port and not port.isdigit():
        return None
    return (userinfo, host, port)


def _clean_query(query: str, drop: Callable[[str], bool] = is_tracking_param) -> str:
    """Drop tracking parameters and empty pairs; sort the rest, keeping their encoding."""
    kept = []
    for raw_pair in query.split("&"):
        pair = raw_pair.strip()
        if not pair:
            continue
        name = pair.split("=", 1)[0]
        if drop(name):
            continue
        kept.append(pair)
    return "&".join(sorted(kept))


def canonical_url(url: str) -> str:
    """The strict canonical form of an http(s) URL; anything else comes back stripped."""
    try:
        return _canonical(url)
    except Exception:  # a canonicaliser must never take a pass down
        try:
            return str(url).strip()
        except Exception:
            return ""


def _canonical(url: str) -> str:
    stripped = url.strip()
    parts = urlsplit(stripped)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.netloc:
        return stripped
    split = _split_netloc(parts.netloc)
    if split is None:
        return stripped
    userinfo, host, port = split
    host = host.lower().rstrip(".")
    if not host:
        return stripped
    port = port.lstrip("0") or ("0" if port else "")
    if port == DEFAULT_PORTS[scheme]:
        port = ""
    netloc = (f"{userinfo}@" if userinfo else "") + host + (f":{port}" if port else "")
    path = parts.path or "/"
    query = _clean_query(parts.query)
    # Stripped again: a trailing space in the path would otherwise vanish on the next call.
    return urlunsplit((scheme, netloc, path, query, "")).strip()


def story_url_key(url: str) -> str:
    """A lossy key: two URLs with the same key very probably show the same article.

    Ignores the scheme, ``www.``/``m.``/``mobile.``/``amp.`` hosts, Google AMP cache
    wrapping, AMP path markers (``/amp/``, ``/amp``, ``.amp``, ``?amp``, ``outputType=amp``),
    loose referrer parameters and a trailing slash.
    """
    try:
        return _story_key(url)
    except Exception:
        return canonical_url(url)


def _story_key(url: str) -> str:
    canonical = canonical_url(url)
    parts = urlsplit(canonical)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return canonical
    host, path = parts.hostname or "", parts.path
    if host.endswith(AMP_CACHE_SUFFIX):
        # https://www-example-com.cdn.ampproject.org/c/s/www.example.com/a -> example.com/a
        match = _AMP_CACHE_PATH.match(path)
        if match:
            inner_query = f"?{parts.query}" if parts.query else ""
            return _story_key("https://" + match.group("rest") + inner_query)
    changed = True
    while changed:
        changed = False
        for prefix in LOSSY_HOST_PREFIXES:
            if host.startswith(prefix) and host.count(".") > 1:
                host = host[len(prefix) :]
                changed = True
    port = f":{parts.port}" if parts.port else ""
    segments = [s for s in path.split("/") if s and s.lower() != "amp"]
    if segments:
        last = segments[-1]
        for suffix in (".amp.html", ".amp"):
            if last.lower().endswith(suffix) and len(last) > len(suffix):
                segments[-1] = last[: -len(suffix)]
                break
    query = _clean_query(parts.query, _lossy_param)
    key = host + port + "/" + "/".join(segments)
    return (key + (f"?{query}" if query else "")).strip()


def _lossy_param(name: str) -> bool:
    return is_tracking_param(name) or unquote(name).strip().lower() in LOSSY_PARAMS
