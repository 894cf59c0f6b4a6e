"""How fast the shipped topics match: articles of ~5 KB per second on one core.

Generates synthetic articles (a seeded mix of everyday news words with topic vocabulary
sprinkled in, so some articles match), then times TopicSet.match over them.

    .venv/bin/python benchmarks/topics_bench.py [--articles 2000] [--size 5000]

Target (issue 3): at least 500 articles of ~5 KB per second per core.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tasks.topics import Document, load_topics  # noqa: E402

FILLER = str.split(
    "the a of to in and on for with said was were is are be has have had will would could"
    " council budget school hospital police weather market shares prices company workers"
    " minister government officials report week year month city county residents plan"
    " local national economy growth inflation bank rates housing transport energy water"
    " football season coach players fans match league cup team victory defeat"
)
TOPICAL = str.split(
    "Russia Russian Kremlin election elections vote voters campaign interference meddling"
    " hacking disinformation British Britain UK US U.S. American Washington White House"
    " Trump Biden Starmer Labour Conservatives trade deal talks ambassador visit summit"
    " relationship intelligence sharing swing states canvassing volunteers foreign"
)


def synthetic_article(rng: random.Random, size: int, topical_share: float) -> Document:
    words: list[str] = []
    length = 0
    sentence = 0
    while length < size:
        pool = TOPICAL if rng.random() < topical_share else FILLER
        word = rng.choice(pool)
        if sentence == 0:
            word = word[:1].upper() + word[1:]
        sentence += 1
        if sentence > rng.randint(12, 25):
            word += "."
            sentence = 0
        words.append(word)
        length += len(word) + 1
    body = " ".join(words)
    paragraphs = [body[i : i + 600] for i in range(0, len(body), 600)]
    title = " ".join(rng.choice(TOPICAL + FILLER) for _ in range(9)).capitalize()
    return Document(title=title, body="\n".join(paragraphs), language="en", source="news.example")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--size", type=int, default=5000, help="characters per article")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    topics = load_topics(None)
    compile_ms = (time.perf_counter() - started) * 1000

    rng = random.Random(args.seed)
    # Most articles are off-topic; a few are dense with topic words, as in a real feed.
    docs = [synthetic_article(rng, args.size, rng.choice((0.02, 0.05, 0.1, 0.3))) for _ in range(args.articles)]
    total_bytes = sum(len(d.title) + len(d.body) for d in docs)

    for doc in docs[:50]:  # warm-up
        topics.match(doc)
    # CPU time of this process: the per-core figure, whatever else the machine is doing.
    started = time.process_time()
    wall_started = time.perf_counter()
    matched = 0
    for doc in docs:
        matched += bool(topics.match(doc))
    elapsed = time.process_time() - started
    wall = time.perf_counter() - wall_started

    rate = len(docs) / elapsed
    print(f"topics: {', '.join(t.id for t in topics.topics)} (loaded and compiled in {compile_ms:.0f} ms)")
    print(f"articles: {len(docs)} of {total_bytes / len(docs) / 1000:.1f} KB on average; {matched} matched a topic")
    print(
        f"matching: {elapsed:.2f} s CPU ({wall:.2f} s wall), {rate:.0f} articles/s per core,"
        f" {elapsed / len(docs) * 1000:.2f} ms per article"
    )
    print(f"target 500 articles/s: {'met' if rate >= 500 else 'NOT met'}")


if __name__ == "__main__":
    main()
