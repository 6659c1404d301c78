"""Shared fixtures: a temporary database and a small cross-border configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot import directory
from bot.config import Settings, parse_settings
from bot.db import Database

OPS_BILINGUAL = -100101  # Tournai: a mixed French/Belgian operations group
OPS_FR = -100102  # a French-only operations group (Lille)
OPS_EN = -100103  # an English-speaking operations group
LIAISON_FR = -100201

COMMANDER = 1001  # Belgian Dir-PC-Ops
LIAISON = 1002
SPOKESPERSON = 1003
ADMIN = 1004
RESPONDER = 1005  # not configured: a firefighter posting in the group
COMMANDER_FR = 1006


def settings_data(db_path: Path, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "telegram": {"token": "123456:TEST-token", "poll_timeout": 1},
        "storage": {"path": str(db_path)},
        "i18n": {"default_language": "en", "timezone": "Europe/Brussels"},
        "cards": {"min_edit_interval": 0.2, "timeline_entries": 5},
        "chats": [
            {
                "id": OPS_BILINGUAL,
                "name": "Tournai ops",
                "kind": "operations",
                "country": "BE",
                "languages": ["fr", "nl"],
            },
            {
                "id": OPS_FR,
                "name": "Lille ops",
                "kind": "operations",
                "country": "FR",
                "languages": ["fr"],
            },
            {
                "id": OPS_EN,
                "name": "Training room",
                "kind": "operations",
                "country": "BE",
                "languages": ["en"],
            },
            {
                "id": LIAISON_FR,
                "name": "CODIS 59",
                "kind": "liaison",
                "country": "FR",
                "languages": ["fr"],
                "agency": "SDIS 59",
            },
        ],
        "people": [
            {
                "id": COMMANDER,
                "name": "Marc Delattre",
                "username": "mdelattre",
                "roles": ["commander"],
                "country": "BE",
                "language": "fr",
            },
            {
                "id": LIAISON,
                "name": "Sophie Vandamme",
                "username": "svandamme",
                "roles": ["liaison"],
                "country": "FR",
            },
            {
                "id": SPOKESPERSON,
                "name": "Pieter Claeys",
                "username": "pclaeys",
                "roles": ["spokesperson"],
                "country": "BE",
                "language": "nl",
            },
            {"id": ADMIN, "name": "Admin", "username": "admin", "roles": ["admin"]},
            {
                "id": COMMANDER_FR,
                "name": "Julie Lefebvre",
                "username": "jlefebvre",
                "roles": ["commander"],
                "country": "FR",
                "language": "fr",
            },
        ],
    }
    data.update(overrides)
    return data


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return parse_settings(settings_data(tmp_path / "passerelle.db"), env={})


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.storage.path)
    await database.open()
    await directory.seed(database, settings)
    yield database
    await database.close()


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    from bot.simulator import TelegramSimulator

    simulator = TelegramSimulator(token="123456:TEST-token", bot_username="passerelle_test_bot")
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def harness(sim: Any, tmp_path: Path) -> AsyncIterator[Any]:
    from tests.harness import Harness

    running = Harness(sim, tmp_path / "e2e.db")
    await running.start()
    yield running
    await running.stop()
