"""The crash harness, short: 300 updates, the bot killed (SIGKILL) 5 times and restarted on
the same database. The long run (2,000 updates, 20 kills) is in docs/reliability.md."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.crash_harness import run


async def test_nothing_lost_nothing_doubled_across_kills(tmp_path: Path) -> None:
    counts = await run(updates=300, kills=5, seed=11, workdir=tmp_path, quiet=True)
    assert counts.problems == []
    bad = {k: v for k, v in vars(counts).items() if k in _MUST_BE_ZERO and v}
    assert bad == {}
    # a scripted step may send two updates (a button pressed twice): 300 or one more
    assert counts.updates >= 300 and counts.kills == 5
    assert counts.checks_after_kill > 0  # the kills happened while updates were confirmed
    assert counts.missing_after_kill == counts.missing_at_end == 0
    assert counts.doubled_timeline == counts.doubled_commitments == counts.doubled_acks == 0
    assert counts.alerts > 0 and counts.alert_missing == 0
    assert counts.cards > 0 and counts.cards_stale == 0
    # incidents closed, some of them while the bot was killed: every one with its evaluation
    # questions, asked and delivered
    assert counts.closes > 0 and counts.close_kills > 0 and counts.batch_kills > 0
    assert counts.evaluations >= counts.closes and counts.evaluation_missing == 0
    assert counts.token_in_log == 0
    # repeated messages: at most one per chat and kill, a few in all per kill
    assert max(counts.repeated_per_chat.values(), default=0) <= counts.kills
    assert counts.ok()


_MUST_BE_ZERO = {
    "missing_after_kill",
    "missing_at_end",
    "doubled_timeline",
    "doubled_commitments",
    "over_committed_requests",
    "doubled_acks",
    "alert_missing",
    "statement_missing",
    "offer_missing",
    "evaluation_missing",
    "cards_stale",
    "outbox_not_sent",
    "token_in_log",
}
