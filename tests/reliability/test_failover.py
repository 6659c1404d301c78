"""The failover harness, short: three instances on one database, the stand-in delivering
webhooks round-robin, 300 updates, 5 kills of a random instance and one stall; and the polling
variant, where the instance that polls is killed and another must take over within 10 s. Both
on SQLite and on PostgreSQL (the `backend` fixture: a database of its own; no server: skipped,
failed when CI is set). The long runs and their figures are in docs/reliability.md."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests import backends
from tests.reliability.failover_harness import (
    TAKEOVER_LIMIT,
    FailoverCounts,
    polling_lease_missing,
    run,
    run_polling,
)


def _nothing_lost_nothing_doubled(counts: FailoverCounts) -> None:
    assert counts.problems == []
    assert counts.checks_after_kill > 0  # the kills came while updates were being answered
    assert counts.missing_after_kill == counts.missing_at_end == counts.never_answered == 0
    assert counts.doubled_timeline == counts.doubled_commitments == counts.doubled_acks == 0
    assert counts.over_committed_requests == 0
    assert counts.alerts > 0 and counts.alert_deliveries > 0 and counts.alert_missing == 0
    assert counts.offers > 0 and counts.offer_missing == 0
    assert counts.statement_missing == counts.evaluation_missing == 0
    assert counts.cards > 0 and counts.cards_stale == 0
    assert counts.outbox_not_sent == 0 and counts.token_in_log == 0
    # repeated messages: at most one per chat and kill (or stall), a few in all per kill
    assert max(counts.repeated_per_chat.values(), default=0) <= counts.failures
    assert counts.ok()


@pytest.mark.both_backends
def test_webhook_instances_killed_at_random_lose_nothing_and_double_nothing(
    backend: str, tmp_path: Path
) -> None:
    counts = asyncio.run(
        run(
            updates=300,
            kills=5,
            seed=11,
            workdir=tmp_path,
            stalls=1,
            backend=backend,
            database_url=backends.current,
            quiet=True,
        )
    )
    assert counts.backend == backend and counts.instances == 3
    assert counts.updates >= 300 and counts.kills == 5 and counts.stalls == 1
    _nothing_lost_nothing_doubled(counts)
    # every update was answered 200, by more than one instance; deliveries failed (the
    # instances were down or died meanwhile) and were made again elsewhere
    assert counts.answered == counts.updates
    assert len(counts.deliveries_by_instance) == 3
    assert counts.delivery_kills > 0 and counts.delivered_more_than_once > 0
    assert {"refused", "reset"} & counts.failed_deliveries.keys()


# python-telegram-bot's own webhook: 200 as soon as the update is queued, before it is handled
# (which takes a little longer here, so that every kill finds such an update in hand)
ANSWER_AT_ONCE = """
import asyncio
import bot.delivery.inbox as inbox
_init = inbox.Inbox.__init__
def _at_once(self, *, confirm_each):
    _init(self, confirm_each=False)
inbox.Inbox.__init__ = _at_once
_process = inbox.PassApplication.process_update
async def _slowly(self, update):
    await asyncio.sleep(0.3)
    await _process(self, update)
inbox.PassApplication.process_update = _slowly
"""


@pytest.mark.sqlite_only
def test_the_harness_sees_updates_lost_by_instances_that_answer_before_handling(
    tmp_path: Path,
) -> None:
    """The harness can fail: instances whose webhook answers 200 before the update is handled
    (as python-telegram-bot's own webhook does) lose the updates they had in hand when killed."""
    counts = asyncio.run(
        run(
            updates=300,
            kills=5,
            seed=11,
            workdir=tmp_path,
            backend="sqlite",
            quiet=True,
            prelude=ANSWER_AT_ONCE,
        )
    )
    assert counts.missing_after_kill + counts.missing_at_end > 0
    assert any("lost" in problem for problem in counts.problems)
    assert not counts.ok()


@pytest.mark.both_backends
def test_polling_another_instance_polls_soon_after_the_poller_dies(
    backend: str, tmp_path: Path
) -> None:
    missing = polling_lease_missing()
    if missing is not None:
        pytest.skip(missing)
    counts = asyncio.run(
        run_polling(
            updates=400,
            kills=3,
            seed=5,
            workdir=tmp_path,
            backend=backend,
            database_url=backends.current,
            quiet=True,
        )
    )
    assert counts.kills == 3 and len(counts.takeovers) == 3
    assert max(counts.takeovers) <= TAKEOVER_LIMIT
    assert counts.pollers_at_once == 0
    _nothing_lost_nothing_doubled(counts)
