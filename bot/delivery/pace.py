"""Telegram's pace (about 30 messages/s per bot token, 20 messages/min per group) kept by all
instances together.

Each instance paces its own requests with PTB's AIORateLimiter: overall, one message every
`1 / rate` seconds, never a burst; per group, a leaky bucket of GROUP_RATE messages per
GROUP_PERIOD seconds (AIORateLimiter's own, one per group). With several instances on one bot
token, each takes its share of both: `share(n)` (n: the instances alive, from the heartbeats,
bot.cluster.members) sets the overall interval to `n / rate`, and each group's bucket to
`GROUP_RATE / n` messages per GROUP_PERIOD (a message every `n * GROUP_PERIOD / GROUP_RATE`
seconds once its burst is spent), for the groups already sent to and those to come. An instance
that dies stops counting after a few seconds, and the others take its share back.
"""

from __future__ import annotations

import logging
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.constants import FloodLimit
from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)

OVERALL_RATE = 29.5  # messages per second, a little under Telegram's ~30
GROUP_RATE = float(FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP)  # 20 messages …
GROUP_PERIOD = 60.0  # … per minute, per group


class SharedRateLimiter(AIORateLimiter):
    """AIORateLimiter whose overall and per-group rates are this instance's share of the bot's."""

    def __init__(
        self,
        rate: float = OVERALL_RATE,
        group_rate: float = GROUP_RATE,
        group_period: float = GROUP_PERIOD,
        **kwargs: Any,
    ) -> None:
        # one message per interval, never a burst: AIORateLimiter's default (a bucket of 30 per
        # second) sends 30 at once and then keeps going, so a sliding second sees 31
        super().__init__(
            overall_max_rate=1,
            overall_time_period=1 / rate,
            group_max_rate=group_rate,
            group_time_period=group_period,
            **kwargs,
        )
        self.rate = rate
        self.group_rate = group_rate
        self.group_period = group_period
        self.instances = 1

    @property
    def interval(self) -> float:
        """Seconds between two messages of this instance."""
        return self.instances / self.rate

    @property
    def group_interval(self) -> float:
        """Seconds between two messages of this instance to one group, its burst spent."""
        return self.instances * self.group_period / self.group_rate

    def share(self, instances: int) -> None:
        """`instances` share the bot's pace from now on."""
        instances = max(1, instances)
        if instances == self.instances:
            return
        self.instances = instances
        limiter = self._base_limiter
        if limiter is not None:
            _pace(limiter, 1, self.interval)
        # each group's budget: 1/n of its messages per period; a bucket holds one at least
        # (aiolimiter refuses to take more than its size), its period then as much longer
        if self._group_max_rate:  # (0: groups not paced)
            size = max(1.0, self.group_rate / instances)
            self._group_max_rate = size
            self._group_time_period = size * self.group_interval
            for group in self._group_limiters.values():
                _pace(group, size, self.group_interval)
        log.info(
            "event=pace_shared instances=%d interval=%.3fs group_interval=%.1fs",
            instances,
            self.interval,
            self.group_interval,
        )


def _pace(limiter: AsyncLimiter, size: float, interval: float) -> None:
    """A bucket of `size` messages that leaks one every `interval` seconds from now on."""
    # aiolimiter's leaky bucket: what has leaked so far at the old rate, then the new one
    limiter._leak()
    limiter.max_rate = size
    limiter.time_period = size * interval
    limiter._rate_per_sec = 1 / interval
