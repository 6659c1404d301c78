"""Shared fixtures: a temporary database and a small cross-border configuration, on SQLite and,
for the storage, end-to-end, exactly-once and crash tests, on PostgreSQL too (tests.backends)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core import directory
from bot.core.config import Settings, parse_settings
from bot.core.db import Database, database_for
from tests import backends
from tests.browser import ARGS, chromium, missing

OPS_BILINGUAL = -100101  # Tournai: a mixed French/Belgian operations group
OPS_FR = -100102  # a French-only operations group (Lille)
OPS_EN = -100103  # an English-speaking operations group
LIAISON_FR = -100201
LIAISON_BE = -100202  # the Hainaut provincial crisis centre, French and Dutch
AGENCY_WAPI = -100501  # zone de secours Wallonie picarde (BE, French)
AGENCY_SDIS59 = -100502  # SDIS 59's duty officers (FR, French)
AGENCY_FLUVIA = -100503  # hulpverleningszone Fluvia (BE, Dutch)

COMMANDER = 1001  # Belgian Dir-PC-Ops
LIAISON = 1002
SPOKESPERSON = 1003
ADMIN = 1004
RESPONDER = 1005  # not configured: a firefighter posting in the group
COMMANDER_FR = 1006
DUTY_WAPI = 1011  # duty officers of the agencies that own units
DUTY_SDIS59 = 1012
DUTY_FLUVIA = 1013


# Resource requests need agency chats (offers) and a Belgian liaison chat (border crossings).
# Opt in with settings_data(..., agencies=True): tests that count every registered chat (alert
# recipients) keep the chats they were written for.
AGENCY_CHATS: list[dict[str, Any]] = [
    {
        "id": LIAISON_BE,
        "name": "CC Hainaut",
        "kind": "liaison",
        "country": "BE",
        "languages": ["fr", "nl"],
    },
    {
        "id": AGENCY_WAPI,
        "name": "ZS WAPI",
        "kind": "agency",
        "country": "BE",
        "languages": ["fr"],
        "agency": "ZS WAPI",
    },
    {
        "id": AGENCY_SDIS59,
        "name": "SDIS 59 – CTA-CODIS",
        "kind": "agency",
        "country": "FR",
        "languages": ["fr"],
        "agency": "SDIS 59",
    },
    {
        "id": AGENCY_FLUVIA,
        "name": "HVZ Fluvia",
        "kind": "agency",
        "country": "BE",
        "languages": ["nl"],
        "agency": "Fluvia",
    },
]


def settings_data(db_path: Path, *, agencies: bool = False, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "telegram": {"token": "123456:TEST-token", "poll_timeout": 1},
        "storage": backends.storage(db_path),
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
            {
                "id": DUTY_WAPI,
                "name": "Luc Van Acker",
                "username": "lvanacker",
                "country": "BE",
                "agency": "ZS WAPI",
                "language": "fr",
            },
            {
                "id": DUTY_SDIS59,
                "name": "Karim Benali",
                "username": "kbenali",
                "country": "FR",
                "agency": "SDIS 59",
                "language": "fr",
            },
            {
                "id": DUTY_FLUVIA,
                "name": "Els Vermeulen",
                "username": "evermeulen",
                "country": "BE",
                "agency": "Fluvia",
                "language": "nl",
            },
        ],
    }
    if agencies:
        data["chats"] = [*data["chats"], *AGENCY_CHATS]
    data.update(overrides)
    return data


# Tests run on both backends: these modules (their tests not marked sqlite_only), and any test
# marked both_backends.
BOTH_BACKENDS = (
    "test_e2e_",
    "test_storage.py",
    "test_units_of_work.py",
    "test_exactly_once.py",
    "reliability/",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: a test of SQLite itself (WAL, PRAGMA, files)")
    config.addinivalue_line("markers", "both_backends: run on SQLite and PostgreSQL")
    config.addinivalue_line("markers", "postgres_only: a test of the PostgreSQL backend itself")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    definition = metafunc.definition
    if definition.get_closest_marker("postgres_only"):
        metafunc.parametrize("backend", ["postgresql"], indirect=True)
        return
    where = definition.path.as_posix()
    both = definition.get_closest_marker("both_backends") or any(
        part in where for part in BOTH_BACKENDS
    )
    if both and not definition.get_closest_marker("sqlite_only"):
        metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


_server: backends.Server | None = None


def _postgres() -> backends.Server:
    """The session's PostgreSQL server, probed (and its template made) the first time."""
    global _server
    if _server is None:
        _server = backends.Server()
        _server.start()
    if _server.problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{_server.problem} (CI is set: the PostgreSQL runs must not be skipped)")
        pytest.skip(_server.problem)
    return _server


@pytest.fixture(autouse=True)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The storage backend of this test: "sqlite", or "postgresql" with a database of its
    own (tests.backends.current) dropped after."""
    name: str = getattr(request, "param", "sqlite")
    if name != "postgresql":
        yield name
        return
    server = _postgres()
    database, url = server.fresh()
    backends.current = url
    try:
        yield name
    finally:
        backends.current = None
        server.drop(database)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _server is not None:
        _server.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _server is not None and _server.problem is not None:
        terminalreporter.write_line(f"PostgreSQL runs skipped: {_server.problem}", yellow=True)


@pytest.fixture
def settings(tmp_path: Path, backend: str) -> Settings:
    return parse_settings(settings_data(tmp_path / "passerelle.db"), env={})


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = database_for(settings.storage)
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright, one per test module (tests.browser)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the dev extras have it
        missing("Playwright is not installed (pip install -e '.[dev]')")
    executable = chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=ARGS)
        yield launched
        launched.close()
