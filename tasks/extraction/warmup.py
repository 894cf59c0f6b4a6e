"""Preloaded by the extraction fork server (see pool.py), never imported otherwise.

One throwaway extraction at import warms trafilatura's lazy state (compiled patterns, date
parsers: ~150 ms on the first page), so every worker forked from the server starts warm and
a first page does not eat into its timeout.
"""

from tasks.extraction.article import ExtractionInput, extract_article

_PAGE = (
    "<!DOCTYPE html><html lang='en'><head><title>Warm-up</title>"
    "<meta property='article:published_time' content='2025-01-01T00:00:00Z'></head>"
    "<body><nav><a href='/'>Home</a></nav><article><h1>Warm-up page</h1>"
    + "<p>This page exists only to warm up the extractor before real work arrives.</p>" * 6
    + "</article><footer>Footer</footer></body></html>"
)

extract_article(ExtractionInput("https://warmup.invalid/article", _PAGE.encode()))
