"""Webhook mode: Telegram posts updates to the bot's own web server, with the secret token."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.incidents import service as incidents
from bot.simulator import TelegramSimulator
from tests.harness import Harness

SECRET = "s3cret-token_for-the-webhook"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def webhook_harness(sim: TelegramSimulator, tmp_path: Path) -> AsyncIterator[Harness]:
    port = _free_port()
    overrides: dict[str, Any] = {
        "telegram": {"token": "123456:TEST-token", "mode": "webhook"},
        "webhook": {
            "listen": "127.0.0.1",
            "port": port,
            "url_path": "tg",
            "url": f"http://127.0.0.1:{port}/tg",
            "secret_token": SECRET,
        },
    }
    running = Harness(sim, tmp_path / "hook.db", **overrides)
    await running.start()
    yield running
    await running.stop()


async def test_updates_arrive_by_webhook_with_the_secret(webhook_harness: Harness) -> None:
    h = webhook_harness
    assert h.sim.webhook_url.endswith("/tg")
    await h.say(h.commander, h.ops, "/incident Inondation de la Lys à Comines")
    card = h.card(h.ops)
    assert "#1 Inondation de la Lys à Comines" in (card.text or "")
    await h.say(h.responder, h.ops, "Digue fragilisée rive gauche", reply_to=card)
    assert "Digue fragilisée rive gauche" in (h.card(h.ops).text or "")


async def test_a_request_without_the_secret_is_refused(webhook_harness: Harness) -> None:
    h = webhook_harness
    forged = {
        "update_id": 777,
        "message": {
            "message_id": 1,
            "date": 0,
            "text": "/incident Faux incident",
            "chat": {"id": h.ops.id, "type": "supergroup", "title": "Tournai ops"},
            "from": {"id": h.commander.id, "is_bot": False, "first_name": "Marc"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 9}],
        },
    }
    assert await h.sim.post_to_webhook(forged, secret="wrong") == 403
    # and one with no secret header at all
    assert await h.sim.webhook.post(forged, None) == 403
    await h.settle()
    assert await incidents.open_in_chat(h.runtime.db, h.ops.id) == []
