"""Injected faults (errors, slow answers, random failures) and Telegram-like flood limits."""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, retry_after

# Methods that count as "sending a message" for Telegram's flood limits.
RATE_LIMITED_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "editMessageText"})

_DEFAULT_DETAIL = {500: None, 502: None}


@dataclass
class Fault:
    """One configured fault; ``hits`` counts how often it fired."""

    method: str | None  # canonical or any-case method name; None matches every method
    status: int | None  # None: no error, only ``delay``
    retry_after: int | None
    times: int | None  # None: forever
    chat_id: int | str | None
    delay: float
    probability: float
    description: str | None
    migrate_to_chat_id: int | None = None
    file_id: str | None = None  # downloads only: this file's, else every file's
    hits: int = 0

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def matches(self, method: str, params: dict[str, Any]) -> bool:
        if self.exhausted:
            return False
        if self.method is not None and self.method.lower() != method.lower():
            return False
        if self.file_id is not None and params.get("file_id") != self.file_id:
            return False
        return self.chat_id is None or str(params.get("chat_id")) == str(self.chat_id)

    def error(self) -> ApiError | None:
        if self.status is None:
            return None
        if self.status == 429:
            if self.description:
                return ApiError(429, self.description, {"retry_after": self.retry_after or 1})
            return retry_after(self.retry_after or 1)
        params = (
            {"migrate_to_chat_id": self.migrate_to_chat_id} if self.migrate_to_chat_id else None
        )
        return ApiError(self.status, self.description, params)


class FaultInjector:
    """Faults configured by tests, consulted by the server before a method runs.

    A fault that fires with an error status makes the call fail *before* it has any effect.
    A delay-only fault slows the answer down but the call still takes effect, like a real
    Telegram answer that arrives after the client gave up.
    """

    def __init__(self, seed: int = 0) -> None:
        self.faults: list[Fault] = []
        self.random = random.Random(seed)  # seeded so probabilistic faults are reproducible
        self.injected = 0  # error answers produced by faults
        self.rate_limited = 0  # 429s produced by the flood limits

    def fail(
        self,
        method: str | None = None,
        status: int | None = 500,
        *,
        retry_after: int | None = None,
        times: int | None = 1,
        chat_id: int | str | None = None,
        delay: float = 0.0,
        probability: float = 1.0,
        description: str | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> Fault:
        """Make the next ``times`` matching calls fail with ``status`` (None = only delay)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        fault = Fault(
            method=method,
            status=status,
            retry_after=retry_after,
            times=times,
            chat_id=chat_id,
            delay=delay,
            probability=probability,
            description=description or _DEFAULT_DETAIL.get(status or 0),
            migrate_to_chat_id=migrate_to_chat_id,
        )
        self.faults.append(fault)
        return fault

    def delay(
        self,
        method: str | None,
        seconds: float,
        *,
        times: int | None = 1,
        chat_id: int | str | None = None,
    ) -> Fault:
        """Answer the next ``times`` matching calls ``seconds`` late (they still succeed)."""
        return self.fail(method, None, times=times, chat_id=chat_id, delay=seconds)

    def seed(self, seed: int) -> None:
        self.random.seed(seed)

    def clear(self) -> None:
        self.faults.clear()

    def take(self, method: str, params: dict[str, Any]) -> Fault | None:
        """The first fault that fires for this call, consuming one of its ``times``."""
        for fault in self.faults:
            if not fault.matches(method, params):
                continue
            if fault.probability < 1.0 and self.random.random() >= fault.probability:
                continue
            fault.hits += 1
            return fault
        return None


class RateLimiter:
    """Sliding-window flood limits modelled on Telegram's documented guidance.

    ~30 messages/s overall, 20 messages/minute per group, ~1 message/s per private chat with a
    small burst. ``check`` never consumes; ``record`` is called only once a send succeeded, so
    rejected sends do not count.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        global_per_second: int = 30,
        group_per_minute: int = 20,
        private_per_second: float = 1.0,
        private_burst: int = 3,
    ) -> None:
        self.clock = clock
        self.global_per_second = global_per_second
        self.group_per_minute = group_per_minute
        self.private_per_second = private_per_second
        self.private_burst = private_burst
        self._global: deque[float] = deque()
        self._per_chat: dict[int, deque[float]] = {}

    def _window(self, chat_id: int, is_private: bool) -> tuple[deque[float], int, float]:
        window = self._per_chat.setdefault(chat_id, deque())
        if is_private:
            # A burst of N is allowed within N seconds: on average still 1 message/s.
            span = self.private_burst / self.private_per_second
            return window, self.private_burst, span
        return window, self.group_per_minute, 60.0

    @staticmethod
    def _wait(window: deque[float], limit: int, span: float, now: float) -> float:
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) < limit:
            return 0.0
        return window[0] + span - now

    def check(self, chat_id: int, is_private: bool) -> None:
        """Raise a 429 ApiError if sending to this chat now would exceed a limit."""
        now = self.clock()
        wait = self._wait(self._global, self.global_per_second, 1.0, now)
        window, limit, span = self._window(chat_id, is_private)
        wait = max(wait, self._wait(window, limit, span, now))
        if wait > 0:
            raise retry_after(max(1, math.ceil(wait)))

    def record(self, chat_id: int, is_private: bool) -> None:
        now = self.clock()
        self._global.append(now)
        self._window(chat_id, is_private)[0].append(now)
