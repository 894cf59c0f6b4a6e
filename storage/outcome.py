"""What happened to a fetch, in one word: the outcome of every feed poll and article page.

The values are a contract: they are stored (``feeds.outcome``, ``feed_fetches.outcome``),
counted in the pass summary (``feeds_ok``, ``pages_transient``, …) and shown in the CLI's
JSON and on the web's feed page. ``Outcome`` is a ``str``, so a member compares, hashes,
formats and serialises as its value; a value read back from the database is a plain
``str`` and compares equal to its member.

A feed that was never fetched has the outcome ``new`` in the database: that is a feed's
state, not what a fetch can end in, so it is no member here.
"""

from __future__ import annotations

from enum import StrEnum

# How much one failed fetch adds to a feed's failure count, which sets its backoff
# (storage/feeds.py): a hard failure 1, a soft one (a timeout, a 404 that may be passing,
# a redirect loop) half as much.
HARD_FAILURE = 1.0
SOFT_FAILURE = 0.5


class Outcome(StrEnum):
    OK = "ok"  # a body (for a feed: parsed entries)
    NOT_MODIFIED = "not_modified"  # 304, or the same bytes as the last fetch
    TRANSIENT = "transient"  # timeouts, connection errors, 429, 5xx: retried later
    PERMANENT = "permanent"  # 404, 410, bot walls, not a feed: retried slowly (feeds) or never
    REJECTED = "rejected"  # refused by us: a private address, not HTML, too large; never retried

    @property
    def succeeded(self) -> bool:
        return self in (Outcome.OK, Outcome.NOT_MODIFIED)

    @property
    def is_failure(self) -> bool:
        return not self.succeeded

    def failure_weight(self, soft: bool) -> float:
        """0 for a success, :data:`SOFT_FAILURE` for a soft failure, else :data:`HARD_FAILURE`."""
        if self.succeeded:
            return 0.0
        return SOFT_FAILURE if soft else HARD_FAILURE


FAILURES = frozenset(outcome for outcome in Outcome if outcome.is_failure)
