"""Reading a body within bounds: at most ``limit`` bytes raw *and* decoded.

We decompress ourselves, in steps that never produce more than the bytes still allowed,
so a gzip bomb stops at the cap without inflating in memory. brotli is not advertised:
its decoder cannot bound its output per step, and none is installed.
"""

from __future__ import annotations

import io
import zlib
from typing import Any

import httpx

from tasks.http._exceptions import BodyError, BodyTooLarge, CorruptBody, UnsupportedEncoding

ACCEPT_ENCODING = "gzip, deflate"
CHUNK = 64 * 1024
# How much of a 401/403/429/503 page we read to recognise a bot wall.
SNIFF_BYTES = 64 * 1024


class _BoundedDecoder:
    """Decompress in steps that never produce more than the bytes still allowed."""

    def __init__(self, encoding: str, limit: int) -> None:
        self._limit = limit
        self._total = 0
        self._encoding = encoding
        self._z: Any = None
        self._raw_fallback = encoding == "deflate"
        if encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
        elif encoding not in ("", "identity"):
            raise UnsupportedEncoding(encoding)

    def feed(self, data: bytes, sink: io.BytesIO) -> None:
        if self._z is None:
            sink.write(self._count(data))
            return
        while data:
            # Small steps: one step of a bomb must not inflate more than CHUNK at once.
            step = min(self._limit - self._total + 1, CHUNK)
            try:
                out = self._z.decompress(data, step)
            except zlib.error as exc:
                # "deflate" servers often send raw deflate without the zlib header.
                if self._encoding == "deflate" and self._total == 0 and self._raw_fallback:
                    self._raw_fallback = False
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise CorruptBody() from exc
            self._raw_fallback = False
            sink.write(self._count(out))
            data = self._z.unconsumed_tail

    def finish(self, sink: io.BytesIO) -> None:
        if self._z is not None:
            try:
                rest = self._z.flush()
            except zlib.error as exc:
                raise CorruptBody() from exc
            sink.write(self._count(rest))

    def _count(self, out: bytes) -> bytes:
        self._total += len(out)
        if self._total > self._limit:
            raise BodyTooLarge(self._limit)
        return out


def read_body(response: httpx.Response, limit: int) -> bytes:
    """The decoded body, at most ``limit`` bytes raw and decoded; raises :class:`BodyError`."""
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    codings = [c.strip() for c in response.headers.get("content-encoding", "").lower().split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if len(codings) > 1:  # stacked encodings ("gzip, gzip") are legal but unseen in the wild
        raise UnsupportedEncoding(", ".join(codings))
    decoder = _BoundedDecoder(codings[0] if codings else "", limit)
    raw_total = 0
    sink = io.BytesIO()  # getvalue() hands over its buffer without a copy
    for chunk in response.iter_raw(CHUNK):
        raw_total += len(chunk)
        if raw_total > limit:
            raise BodyTooLarge(limit)
        decoder.feed(chunk, sink)
    decoder.finish(sink)
    return sink.getvalue()


def sniff(response: httpx.Response) -> bytes:
    """The start of an error page, for bot-wall markers; never fails."""
    try:
        return read_body(response, SNIFF_BYTES)
    except (BodyError, httpx.HTTPError):
        return b""
