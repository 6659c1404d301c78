"""What handlers share while the bot runs: settings, database, card publisher."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.config import Settings
from bot.core.db import Database
from bot.delivery.cards import CardPublisher
from bot.delivery.outbox import OutboxSender
from bot.delivery.request_cards import RequestCardPublisher
from bot.delivery.tallies import TallyPublisher


@dataclass
class Runtime:
    settings: Settings
    db: Database
    publisher: CardPublisher | None = field(default=None)
    sender: OutboxSender | None = field(default=None)
    tally_publisher: TallyPublisher | None = field(default=None)
    request_publisher: RequestCardPublisher | None = field(default=None)

    @property
    def cards(self) -> CardPublisher:
        if self.publisher is None:
            raise RuntimeError("the card publisher starts with the application")
        return self.publisher

    @property
    def outbox(self) -> OutboxSender:
        if self.sender is None:
            raise RuntimeError("the outbox sender starts with the application")
        return self.sender

    @property
    def tallies(self) -> TallyPublisher:
        if self.tally_publisher is None:
            raise RuntimeError("the tally publisher starts with the application")
        return self.tally_publisher

    @property
    def request_cards(self) -> RequestCardPublisher:
        if self.request_publisher is None:
            raise RuntimeError("the request card publisher starts with the application")
        return self.request_publisher
