"""End to end: commands in the reader's language, an unknown command, /help that offers only
what the person may do, /lang's number of languages, and lists that read as lists."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import handlers
from bot.core import directory
from bot.core.i18n import translator
from bot.resources import requests, roster_csv
from bot.simulator import TelegramSimulator
from tests.harness import Harness

EN = translator("en").gettext
FR = translator("fr").gettext
NL = translator("nl").gettext

ROSTER = """\
code,type,name,agency,country,lat,lon,capacity,status
BE-WAPI-AMB-1,ambulance,Ambulance Tournai 1,ZS WAPI,BE,50.6071,3.3894,1,available
BE-WAPI-AMB-2,ambulance,Ambulance Mouscron 1,ZS WAPI,BE,50.7444,3.2064,1,available
FR-SDIS59-VSAV-1,VSAV,VSAV Tourcoing 1,SDIS 59,FR,50.7239,3.1612,1,available
BE-FLUVIA-ZW-1,ziekenwagen,Ziekenwagen Kortrijk 1,Fluvia,BE,50.8279,3.2649,1,available
"""
UNKNOWN = "I do not know the command {command}. /help lists the commands you can use."
UNKNOWN_CLOSE = (
    "I do not know the command {command}. Did you mean /{suggestion}? "
    "/help lists the commands you can use."
)


@pytest.fixture
async def h(sim: TelegramSimulator, tmp_path: Path) -> AsyncIterator[Harness]:
    running = Harness(sim, tmp_path / "commands.db", agencies=True)
    await running.start()
    await roster_csv.import_roster(running.runtime.db, ROSTER)
    yield running
    await running.stop()


async def _incidents(h: Harness) -> list[object]:
    async with h.runtime.db.read() as tx:
        return list(await tx.all("SELECT id FROM incidents"))


async def test_french_and_dutch_names_do_what_the_english_one_does(h: Harness) -> None:
    await h.say(h.commander, h.ops, "/incident Carambolage sur l'E42")
    await h.sim.send_location(h.commander, h.ops, 50.61, 3.39, reply_to=h.card(h.ops))
    await h.settle()
    await h.say(h.commander, h.ops, "/demande 2 ambulances blessés graves")
    await h.say(h.commander, h.ops, "/aanvraag 1 ziekenwagen")
    await h.say(h.commander, h.ops, "/request 1 ambulance")
    made = [await requests.get_request(h.runtime.db, n) for n in (1, 2, 3)]
    assert [(r.quantity, r.type.value, r.note) for r in made if r is not None] == [
        (2, "ambulance", "blessés graves"),
        (1, "ambulance", None),
        (1, "ambulance", None),
    ]
    # a command's other names, with this bot's name too, in private as in a group
    await h.say(h.commander, h.ops, "/note@passerelle_test_bot Deux blessés incarcérés")
    assert h.last_text(h.ops).startswith("📝")
    dm = h.sim.private_chat(h.commander)
    await h.say(h.commander, dm, "/aide")
    assert FR("What you can do") in h.last_text(dm)
    # a usage line names the command as the reader calls it
    await h.say(h.commander_fr, h.ops_fr, "/incident Feu de silo à Comines")
    await h.say(h.commander_fr, h.ops_fr, "/liberer")
    assert h.last_text(h.ops_fr) == "⛔ " + FR(
        "Usage: /release [#ref] <unit code>, for example /release BE-WAPI-AMB-3"
    )
    assert "/liberer [#réf] <code du moyen>" in h.last_text(h.ops_fr)


def test_every_name_is_a_telegram_command_name_and_means_one_command() -> None:
    names = [name for c in handlers.COMMANDS for name in c.all_names]
    assert len(names) == len(set(names)), names
    assert all(name.isascii() and name.replace("_", "").isalnum() for name in names)
    assert all(name == name.lower() and len(name) <= 32 for name in names)
    assert {c.name_in("fr") for c in handlers.COMMANDS} >= {"demande", "carte", "aide"}
    assert {c.name_in("nl") for c in handlers.COMMANDS} >= {"aanvraag", "kaart", "hulp"}


async def test_an_unknown_command_points_to_help_in_the_readers_language(h: Harness) -> None:
    # in private
    dm = h.sim.private_chat(h.commander)
    await h.say(h.commander, dm, "/incidnet Feu")
    assert h.last_text(dm) == "⛔ " + FR(UNKNOWN_CLOSE).format(
        command="/incidnet", suggestion="incident"
    )
    assert "/aide" in h.last_text(dm)
    # in a registered bilingual group: both languages, each with its own /help
    await h.say(h.responder, h.ops, "/frobnicate now")
    text = h.last_text(h.ops)
    assert ("⛔ " + FR(UNKNOWN).format(command="/frobnicate")) in text
    assert ("⛔ " + NL(UNKNOWN).format(command="/frobnicate")) in text
    assert "/aide" in text and "/hulp" in text
    # addressed to this bot by name
    await h.say(h.admin, h.ops_en, "/frobnicate@passerelle_test_bot")
    assert h.last_text(h.ops_en) == "⛔ " + EN(UNKNOWN).format(command="/frobnicate")
    # a Dutch name mistyped is suggested as the Dutch name
    await h.say(h.admin, h.ops_en, "/aanvrag 2 ziekenwagens")
    assert h.last_text(h.ops_en) == "⛔ " + EN(UNKNOWN_CLOSE).format(
        command="/aanvrag", suggestion="aanvraag"
    )
    # another bot's command, even a name of ours, is not ours to answer
    before = len(h.bot_texts(h.ops_en))
    await h.say(h.admin, h.ops_en, "/frobnicate@other_bot")
    await h.say(h.admin, h.ops_en, "/help@other_bot")
    assert len(h.bot_texts(h.ops_en)) == before
    assert await _incidents(h) == []


async def test_an_unknown_command_in_an_unregistered_group_gets_only_the_chat_id(
    h: Harness,
) -> None:
    await h.say(h.commander, h.stranger_group, "/incidnet Feu")
    texts = h.bot_texts(h.stranger_group)
    assert len(texts) == 1 and str(h.stranger_group.id) in texts[0]
    assert FR(UNKNOWN).split("{")[0] not in texts[0]


async def test_help_offers_a_responder_only_what_a_responder_may_do(h: Harness) -> None:
    await h.say(h.responder, h.ops_en, "/help")
    offered = h.last_text(h.ops_en)
    # a unit: to look at, not to change (that needs the unit's agency), and no roll-call
    assert "/unit — " + EN("a unit and its status: /unit <code>") in offered
    assert "available|unavailable" not in offered and "/rollcall" not in offered
    # the group's languages are an admin's: the responder's own, in private
    assert EN("choose your language, in a private chat with me: /lang fr|nl|en") in offered
    assert "/incident" not in offered and "/request" not in offered
    # what the old help offered is indeed refused
    await h.say(h.responder, h.ops_en, "/unit BE-WAPI-AMB-1 unavailable")
    assert h.last_text(h.ops_en).startswith("⛔")
    await h.say(h.responder, h.ops_en, "/lang fr nl")
    assert h.last_text(h.ops_en).startswith("⛔")
    # in their own language, by their own names
    dm = h.sim.private_chat(h.responder)
    await h.say(h.responder, dm, "/hulp")
    assert "/eenheid — " + NL("a unit and its status: /unit <code>") in h.last_text(dm)
    # an agency's duty officer may change its units: the whole line, and the roll-call
    await h.say(h.duty_wapi, h.ops_en, "/help")
    duty = h.last_text(h.ops_en)
    assert "/unit — " + EN(handlers_unit_description()) in duty
    assert "/rollcall" in duty
    # an admin sets a group's languages
    await h.say(h.admin, h.ops_en, "/help")
    assert EN("choose your language: /lang fr|nl|en; a group's (admin): /lang fr nl") in (
        h.last_text(h.ops_en)
    )


def handlers_unit_description() -> str:
    return next(c.description for c in handlers.COMMANDS if c.name == "unit")


async def test_a_group_reads_one_or_two_languages_not_three(h: Harness) -> None:
    await h.say(h.admin, h.ops_en, "/lang fr nl en")
    assert h.last_text(h.ops_en) == "⛔ " + EN(
        "Usage: /lang fr, /lang nl or /lang en (a group may read two: /lang fr nl)."
    )
    chat = await directory.get_chat(h.runtime.db, h.ops_en.id)
    assert chat is not None and chat.languages == ("en",)
    # two, as the usage says: and the answer reads as a list in each language
    await h.say(h.admin, h.ops_en, "/lang nl fr")
    text = h.last_text(h.ops_en)
    assert f"{NL('Dutch')} en {NL('French')}" in text
    assert f"{FR('Dutch')} et {FR('French')}" in text


async def test_lists_in_answers_read_as_lists(h: Harness) -> None:
    await h.say(h.responder, h.ops, "/incident Feu de broussailles")
    text = h.last_text(h.ops)
    # "commandant ou admin", not "commandant, admin"
    assert f"{FR('commander')} ou {FR('admin')}" in text
    assert f"{NL('commander')} of {NL('admin')}" in text
    await h.say(h.commander, h.ops, "/incident Feu de broussailles")
    await h.say(h.commander, h.ops, "/set gravité énorme")
    text = h.last_text(h.ops)
    assert f"{FR('severe')} ou {FR('extreme')}" in text
    assert f"{NL('severe')} of {NL('extreme')}" in text
    await h.say(h.commander, h.ops, "/set zorg 2")
    assert f"{FR('status')} et {FR('location')}" in h.last_text(h.ops)


ROOT = Path(__file__).resolve().parent.parent


def _readme_rows() -> dict[str, tuple[str, str]]:
    """The README's table of commands: /name → (usage as written, its French · Dutch cell)."""
    rows = {}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for line in readme.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 4 and cells[0].startswith("`/"):
            for usage in re.findall(r"`(/[^`]+)`", cells[0].replace("\\|", "|")):
                rows[usage.split()[0]] = (usage, cells[1])
    return rows


def test_usage_lines_and_the_readme_agree() -> None:
    """One argument order: the command menu's usage, the refusals' usage lines and the
    README's table say the same; the table gives each command's French and Dutch names."""
    rows = _readme_rows()
    template = (ROOT / "locales" / "messages.pot").read_text(encoding="utf-8")
    usages = re.findall(r'^msgid "Usage: (/[a-z]+[^"]*)"', template, re.M)
    for command in handlers.COMMANDS:
        name = f"/{command.name}"
        usage, names = rows[name]
        described = re.search(rf"({name}\b[^,;]*)", command.description)
        if described is not None:
            statuses = r"\[available\|[^\]]*\]"
            assert re.sub(statuses, "[status]", described.group(1)) == usage, command.name
        for line in (u for u in usages if u.split()[0] == name):
            # an optional #ref comes first, everywhere
            assert ("[#ref]" in line) == ("[#ref]" in usage), line
            if "[#ref]" in usage:
                assert line.startswith(f"{name} [#ref]"), line
        if command.names:
            french, dutch = names.split(" · ")
            assert f"`/{command.name_in('fr')}`" in french, (command.name, names)
            assert f"`/{command.name_in('nl')}`" in dutch, (command.name, names)


async def test_examples_are_in_the_reader_s_language(h: Harness) -> None:
    await h.say(h.commander, h.ops, "/incident Feu de broussailles")
    await h.say(h.commander, h.ops, "/logboek")
    answer = h.last_text(h.ops)
    assert "/note 2 victimes évacuées" in answer
    assert "/logboek 2 slachtoffers geëvacueerd" in answer
    dutch = answer[answer.index("/logboek 2") - 200 :]
    assert "victimes" not in dutch
    await h.say(h.liaison, h.ops_en, "/alert")
    assert "/alert severe Toxic cloud towards Mouscron" in h.last_text(h.ops_en)
