"""Telegram's overall pace (about 30 messages/s per bot token) kept by all instances together.

Each instance paces its own requests with PTB's AIORateLimiter, one message every
`1 / rate` seconds, never a burst. With several instances on one bot token, each takes its
share: `share(n)` (n: the instances alive, from the heartbeats, bot.cluster.members) sets the
interval to `n / rate`. An instance that dies stops counting after a few seconds, and the
others take its share back.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)

OVERALL_RATE = 29.5  # messages per second, a little under Telegram's ~30


class SharedRateLimiter(AIORateLimiter):
    """AIORateLimiter whose overall rate is this instance's share of the bot's."""

    def __init__(self, rate: float = OVERALL_RATE, **kwargs: Any) -> None:
        # one message per interval, never a burst: AIORateLimiter's default (a bucket of 30 per
        # second) sends 30 at once and then keeps going, so a sliding second sees 31
        super().__init__(overall_max_rate=1, overall_time_period=1 / rate, **kwargs)
        self.rate = rate
        self.instances = 1

    @property
    def interval(self) -> float:
        """Seconds between two messages of this instance."""
        return self.instances / self.rate

    def share(self, instances: int) -> None:
        """`instances` share the bot's pace from now on."""
        instances = max(1, instances)
        if instances == self.instances:
            return
        self.instances = instances
        limiter = self._base_limiter
        if limiter is None:
            return
        # aiolimiter's leaky bucket: what has leaked so far at the old rate, then the new one
        limiter._leak()
        limiter.time_period = self.interval
        limiter._rate_per_sec = 1 / self.interval
        log.info("event=pace_shared instances=%d interval=%.3fs", instances, self.interval)
