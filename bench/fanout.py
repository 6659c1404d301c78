"""Alert fan-out: one /alert to 300 groups, the stand-in enforcing Telegram's limits (30
messages/s overall, 20/min per group). Everything must arrive, within 1.1 × the lower bound
the limit sets (300 / 30 per second = 10 s), nothing lost, no 429.

Time: from the /alert update being available to the last group's message reaching the
stand-in. The alert's tally (in the liaison chat, edited as acknowledgements come) shares
the 30/s budget and is counted apart.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from bench.common import (
    TOKEN,
    BenchError,
    BotProcess,
    Metric,
    Results,
    Store,
    bot_config,
    first_get_updates,
    wait_until,
)
from bot.simulator import TelegramSimulator

ORIGIN = -1004000000000
TARGET_BASE = -1004000000001
LIAISON = 9000001


def _metrics(results: Results, groups: int) -> None:
    bound = groups / 30
    results.define(Metric("fan_groups", "fan-out: groups alerted", "", digits=0))
    results.define(
        Metric(
            "fan_delivered",
            "fan-out: groups that received it",
            "",
            f"{groups}",
            lambda v: v == groups,
            digits=0,
        )
    )
    results.define(
        Metric(
            "fan_time",
            "fan-out: /alert to last delivery",
            "s",
            f"≤ {1.1 * bound:.1f} s (1.1 × {bound:.1f} s)",
            lambda v: v <= 1.1 * bound,
            digits=2,
        )
    )
    results.define(Metric("fan_first", "fan-out: /alert to first delivery", "s", digits=2))
    results.define(Metric("fan_other", "fan-out: other sends meanwhile (tally)", "", digits=0))
    results.define(
        Metric("fan_429", "fan-out: 429 answers received", "", "0", lambda v: v == 0, digits=0)
    )
    results.define(
        Metric("fan_failed", "fan-out: outbox rows not sent", "", "0", lambda v: v == 0, digits=0)
    )


async def run_once(groups: int, workdir: Path, results: Results, store: Store) -> None:
    _metrics(results, groups)
    async with TelegramSimulator(token=TOKEN, enforce_limits=True) as sim:
        liaison = sim.add_user(LIAISON, "Sophie", username="sophie", language_code="fr")
        origin = sim.add_chat(ORIGIN, "supergroup", title="Liaison", members=[liaison])
        chats: list[dict[str, Any]] = [
            {
                "id": ORIGIN,
                "name": "Liaison",
                "kind": "liaison",
                "country": "FR",
                "languages": ["fr"],
            }
        ]
        targets = []
        for i in range(groups):
            chat_id = TARGET_BASE - i
            targets.append(sim.add_chat(chat_id, "supergroup", title=f"Agency {i}"))
            chats.append(
                {
                    "id": chat_id,
                    "name": f"Agency {i}",
                    "kind": "agency",
                    "country": "BE" if i % 2 else "FR",
                    "languages": [("fr", "nl", "en")[i % 3]],
                    "agency": f"Agency {i}",
                }
            )
        people = [{"id": LIAISON, "name": "Sophie", "roles": ["liaison"], "country": "FR"}]
        config = bot_config(sim, store, chats=chats, people=people, min_edit_interval=3.0)
        bot = BotProcess.passerelle(config, workdir, "passerelle-fanout")
        await bot.start()
        try:
            await first_get_updates(sim, bot, 60)
            start_calls = len(sim.calls)
            await sim.send_text(liaison, origin, "/alert severe Nuage toxique, confinement")
            posted = time.time()
            target_ids = {t.id for t in targets}

            def delivered() -> set[int]:
                return {
                    int(c.arg("chat_id"))
                    for c in sim.calls[start_calls:]
                    if c.method == "sendMessage" and c.ok and int(c.arg("chat_id")) in target_ids
                }

            # what did not arrive in time is reported as missing below
            with contextlib.suppress(BenchError):
                await wait_until(
                    lambda: len(delivered()) >= groups, 6 * groups / 30 + 30, "delivery", bot
                )
            sends = [
                c
                for c in sim.calls[start_calls:]
                if c.method == "sendMessage" and c.ok and int(c.arg("chat_id")) in target_ids
            ]
            got = delivered()
            results.add("fan_groups", groups)
            results.add("fan_delivered", len(got))
            results.add("fan_time", max(c.time for c in sends) - posted if sends else float("nan"))
            results.add("fan_first", min(c.time for c in sends) - posted if sends else float("nan"))
            last = max((c.time for c in sends), default=posted)
            others = [
                c
                for c in sim.calls[start_calls:]
                if c.method in ("sendMessage", "editMessageText")
                and c.ok
                and int(c.arg("chat_id")) not in target_ids
                and c.time <= last
            ]
            results.add("fan_other", len(others))
            results.add("fan_429", sim.count_status(429))
        finally:
            await bot.stop()
        left = await store.scalar("SELECT COUNT(*) FROM outbox WHERE status != 'sent'")
        results.add("fan_failed", int(left))
