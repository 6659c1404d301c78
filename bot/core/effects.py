"""What a unit of work leaves to do once it has committed: which live messages show something
new, whether the outbox has rows to send, which offer time-outs to schedule, and the
Telegram-side work of the handler that ran it (its answer, a toast, an edit).

Services record these while they write; nothing here runs before the commit, so an effect is
never applied for a change that did not land (a refusal rolls both back together).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple


class LiveKind(StrEnum):
    """Messages kept current in place, each by its own view of the database."""

    CARD = "card"  # an incident's card in one chat: (incident ref, chat id)
    REQUEST = "request"  # a resource request's card in the chat that asked: (request id, chat)
    TALLY = "tally"  # an alert's acknowledgement tally for the liaison: (alert id, chat)
    OFFER = "offer"  # an offer in an agency chat, once it closes: (offer id, chat id)


class Live(NamedTuple):
    kind: LiveKind
    subject: int
    chat_id: int


AfterCommit = Callable[[], Awaitable[None]]


@dataclass
class Effects:
    live: set[Live] = field(default_factory=set)
    outbox: bool = False  # rows were queued: wake the sender
    expiries: set[datetime] = field(default_factory=set)  # offer time-outs to schedule
    catch_up: bool = False  # every live message may be behind (a chat came back, or moved)
    after: list[AfterCommit] = field(default_factory=list)  # the handler's Telegram work
    files: bool = False  # files were queued for download (bot.evidence): wake the keeper
    # the incidents whose picture changed (their cards, request cards or tallies): the
    # situation board's open pages are told once the unit committed
    incidents: set[int] = field(default_factory=set)

    def touch(self, live: Live) -> None:
        self.live.add(live)

    def then(self, work: AfterCommit) -> None:
        self.after.append(work)

    def checkpoint(self) -> Effects:
        """A copy to go back to when the work since is rolled back (a refusal)."""
        return Effects(
            set(self.live),
            self.outbox,
            set(self.expiries),
            self.catch_up,
            list(self.after),
            self.files,
            set(self.incidents),
        )

    def restore(self, saved: Effects) -> None:
        self.live, self.outbox, self.expiries = saved.live, saved.outbox, saved.expiries
        self.catch_up, self.after, self.files = saved.catch_up, saved.after, saved.files
        self.incidents = saved.incidents
