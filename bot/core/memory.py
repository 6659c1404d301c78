"""The garbage collector, tuned for a long-running bot that builds large answers.

An incident page (bot.board) or a report builds tens of thousands of short-lived dicts and
lists. With CPython's default thresholds many of them outlive a young collection while the
answer is being built, reach the oldest generation and make full collections frequent: every
few hundred milliseconds under a stream of pages, each scanning every object the bot holds
(the gazetteer, the border, the catalogs, PTB): 30 to 100 ms during which no update is
served. That was the incident page's p99 (docs/benchmarks.md, "The situation board").

Two standard remedies: what exists once the bot has started is frozen (never scanned again: it
lives as long as the process), and the young generation is larger, so that an answer's objects
are gone before the collector looks at them. Cycles are still collected, only less often.
"""

from __future__ import annotations

import gc

# objects allocated (minus freed) before a young collection; CPython's default is 700
YOUNG = 20_000


def tune() -> None:
    """At the start of the process."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, old)


def settle() -> None:
    """Once the bot has started: what it holds from now on for good is left out of collections."""
    gc.collect()
    gc.freeze()
