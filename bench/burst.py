"""Card edits under a burst: 200 replies to one incident within 5 s, the stand-in enforcing
Telegram's flood limits. The card must be edited at most once per 3 s, end exactly right
(its last five timeline entries are the last five replies, in order) and no call may get a 429.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import time
from pathlib import Path

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

GROUP = -1003000000001
COMMANDER = 8000001
RESPONDERS = [8000010 + i for i in range(10)]


def _metrics(results: Results) -> None:
    results.define(Metric("burst_replies", "burst: replies sent (in 5 s)", "", digits=0))
    results.define(
        Metric(
            "burst_gap",
            "burst: shortest gap between two card edits",
            "s",
            "≥ 3 s",
            lambda v: v >= 3.0 - 0.05,
            digits=2,
        )
    )
    results.define(Metric("burst_edits", "burst: card edits", "", digits=0))
    results.define(
        Metric(
            "burst_final",
            "burst: final card exactly right (1 = yes)",
            "",
            "1",
            lambda v: v == 1,
            digits=0,
        )
    )
    results.define(Metric("burst_settle", "burst: last reply to final card edit", "s", digits=2))
    results.define(
        Metric("burst_429", "burst: 429 answers received", "", "0", lambda v: v == 0, digits=0)
    )


async def run_once(replies: int, workdir: Path, results: Results, store: Store) -> None:
    _metrics(results)
    async with TelegramSimulator(token=TOKEN, enforce_limits=True) as sim:
        commander = sim.add_user(COMMANDER, "Marc", username="marc", language_code="fr")
        responders = [
            sim.add_user(uid, f"Resp{i}", language_code="fr") for i, uid in enumerate(RESPONDERS)
        ]
        chat = sim.add_chat(
            GROUP,
            "supergroup",
            title="Burst ops",
            members=[commander, *responders],
            bot_status="administrator",
        )
        config = bot_config(
            sim,
            store,
            chats=[
                {
                    "id": GROUP,
                    "name": "Burst ops",
                    "kind": "operations",
                    "country": "BE",
                    "languages": ["fr"],
                }
            ],
            people=[{"id": COMMANDER, "name": "Marc", "roles": ["commander"]}],
            min_edit_interval=3.0,
        )
        bot = BotProcess.passerelle(config, workdir, "passerelle-burst")
        await bot.start()
        try:
            await first_get_updates(sim, bot, 60)
            await sim.send_text(commander, chat, "/incident Incendie entrepôt")
            await wait_until(lambda: sim.pinned(chat) is not None, 30, "the card", bot)
            card = sim.pinned(chat)
            assert card is not None
            await asyncio.sleep(3.5)  # the card's first edit window passes
            start_calls = len(sim.calls)
            start = time.monotonic()
            texts = []
            for i in range(replies):
                delay = start + i * 5.0 / replies - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                text = f"renfort {i:03d} arrivé"
                texts.append(text)
                await sim.send_text(responders[i % len(responders)], chat, text, reply_to=card)
            last_sent = time.time()

            def final() -> bool:
                body = card.text or ""
                return all(t in body for t in texts[-5:])

            await wait_until(final, 30, "the final card", bot)
            await asyncio.sleep(3.5)  # anything after the final state would show here
            edits = [
                c
                for c in sim.calls[start_calls:]
                if c.method == "editMessageText" and c.arg("message_id") == card.message_id
            ]
            ok_edits = [c for c in edits if c.ok]
            gaps = [b.time - a.time for a, b in itertools.pairwise(ok_edits)]
            body = card.text or ""
            positions = [body.find(html.unescape(t)) for t in texts[-5:]]
            exact = all(p >= 0 for p in positions) and positions == sorted(positions)
            results.add("burst_replies", replies)
            results.add("burst_edits", len(ok_edits))
            results.add("burst_gap", min(gaps) if gaps else float("inf"))
            results.add("burst_final", 1.0 if exact and texts[-6] not in body else 0.0)
            results.add("burst_settle", ok_edits[-1].time - last_sent if ok_edits else float("nan"))
            results.add("burst_429", sim.count_status(429))
            if not ok_edits:
                raise BenchError("the card was never edited")
        finally:
            await bot.stop()
