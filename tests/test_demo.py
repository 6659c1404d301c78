"""`python -m bot demo` plays the scripted incident end to end, without a token or network,
and its transcript shows what the bot really did."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.core.i18n import translator

FR = translator("fr").gettext
NL = translator("nl").gettext
ROOT = Path(__file__).resolve().parents[1]
TITLE = "Fuite de chlore, gare de triage de Tournai"


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    tmpdir: Path

    @property
    def steps(self) -> list[str]:
        return self.stdout.split("── step ")[1:]

    def step(self, marker: str) -> str:
        found = [s for s in self.steps if marker in s.split("Passerelle:")[0]]
        assert len(found) == 1, f"{len(found)} steps match {marker!r}:\n{self.stdout}"
        return found[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmpdir = tmp_path_factory.mktemp("demo-tmp")
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env.update(TMPDIR=str(tmpdir), PYTHONIOENCODING="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--speed", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return Run(
        done.returncode,
        done.stdout.decode("utf-8"),
        done.stderr.decode("utf-8"),
        tmpdir,
    )


def test_the_demo_runs_to_the_end(run: Run) -> None:
    assert run.returncode == 0, run.stderr + run.stdout
    assert "Traceback" not in run.stderr
    assert 10 <= len(run.steps) <= 24
    assert "Done: " in run.steps[-1]
    # the temporary database and the kept files are gone; the report is left to be opened
    assert [p.name for p in run.tmpdir.iterdir()] == ["passerelle-demo-passerelle-1-report.html"]


def test_a_photo_and_a_voice_note_join_the_timeline_and_the_report_shows_the_photo(
    run: Run,
) -> None:
    photo = run.step("orange plate").split("📌 card, edited")[1]
    for tr in (FR, NL):
        assert f"Wouter Maes: 📷 {tr('photo')}: Oranje bord 268/1017 op de ketelwagen" in photo
    assert photo.count("› ") >= 4  # counts and entry, in both blocks
    voice = run.step("voice note of 18 s").split("📌 card, edited")[1]
    assert f"Camille Martin: 🎙 {FR('voice note')} 0:18" in voice
    assert f"Camille Martin: 🎙 {NL('voice note')} 0:18" in voice
    assert "📷 1 · 🎙 1" in voice
    report = run.step("/report")
    assert "📎 passerelle-1-report.html" in report
    saved = run.tmpdir / "passerelle-demo-passerelle-1-report.html"
    assert str(saved) in run.steps[-1]
    html = saved.read_text(encoding="utf-8")
    assert html.count("data:image/jpeg;base64,") == 2  # in the French and the Dutch section
    assert "Oranje bord 268/1017 op de ketelwagen" in html


def test_the_declared_incident_is_posted_and_pinned(run: Run) -> None:
    first = run.step(f"/incident {TITLE}")
    assert "📌 card, posted and pinned" in first
    assert f"#1 {TITLE}" in first
    # a mixed French/Dutch group reads both blocks
    assert FR("Timeline") in first and NL("Timeline") in first


def test_replies_in_both_languages_edit_the_card(run: Run) -> None:
    dutch = run.step("Gele wolk boven spoor 7")
    card = dutch.split("📌 card, edited")[1]
    # the Dutch reply is on the card, in the French and in the Dutch block
    assert card.count("Wouter Maes: Gele wolk boven spoor 7") == 2
    french = run.step("SMUR de Tourcoing")
    assert "Camille Martin: SMUR de Tourcoing en route" in french.split("📌 card, edited")[1]


def test_a_shared_location_puts_the_coordinates_on_the_card(run: Run) -> None:
    shared = run.step("shares a location")
    card = shared.split("📌 card, edited")[1]
    assert FR("Location: {location}").format(location="📍 50.61400, 3.40600") in card
    assert NL("Location: {location}").format(location="📍 50.61400, 3.40600") in card
    # before it, the location was unknown
    before = run.step("Gele wolk boven spoor 7")
    assert FR("Location: {location}").format(location=FR("unknown")) in before


def test_the_buttons_change_status_and_severity(run: Run) -> None:
    active = run.step(f"[🔥 {FR('active')} / {NL('active')}]")
    assert FR("Status: {status}").format(status=FR("active")) in active  # the toast
    card = active.split("📌 card, edited")[1]
    assert f"🔥 {FR('active')}" in card and f"🔥 {NL('active')}" in card
    severe = run.step(f"[🟠 {FR('severe')} / {NL('severe')}]")
    card = severe.split("📌 card, edited")[1]
    assert f"🟠 {FR('severe')}" in card and f"🟠 {NL('severe')}" in card


def test_set_and_assign_show_on_the_card(run: Run) -> None:
    place = run.step("/set lieu")
    assert "Gare de triage de Tournai 📍 50.61400, 3.40600" in place.split("📌 card, edited")[1]
    assigned = run.step("/assign porte-parole")
    assert "✅ Nathalie Dubois" in assigned
    card = assigned.split("📌 card, edited")[1]
    assert FR("Spokesperson: {name}").format(name="Nathalie Dubois") in card
    assert NL("Spokesperson: {name}").format(name="Nathalie Dubois") in card
    # before the assignment, nobody was named
    assert FR("Spokesperson: {name}").format(name="Nathalie Dubois") not in place


def test_the_liaison_sees_the_situation(run: Run) -> None:
    status = run.step("/status")
    assert f"#1 {TITLE}" in status.split("Passerelle:")[1]
    answer = status.split("Passerelle:")[1]
    assert "CMIC Lille du SDIS 59" in answer
    # the French unit works the Belgian incident: France is involved, no French mayor directs
    # (the liaison reads French in private)
    assert FR("the mayor (maire)") not in answer
    involved = FR("{country} involved: its units work under the command of {incident_country}")
    assert involved.format(country=FR("France"), incident_country=FR("Belgium")) in answer


def test_a_responder_cannot_close_and_the_commander_can(run: Run) -> None:
    closes = [s for s in run.steps if "types: /close" in s]
    assert len(closes) == 2
    refused, closed = closes
    assert "Wouter Maes" in refused and "⛔" in refused
    assert "📌 card" not in refused  # a refusal changes nothing
    assert "Luc Desmet" in closed.split("\n", 2)[1]
    card = closed.split("📌 card, edited")[1].split("💬")[0]  # what other chats got follows
    assert f"✅ {FR('closed')}" in card and f"✅ {NL('closed')}" in card
    assert "buttons:" not in card  # a closed incident has no buttons
    # the card was edited in place all along
    assert run.stdout.count("📌 card, posted and pinned") == 1
    assert run.stdout.count("📌 card, edited") >= 8


def test_the_demo_requests_a_unit_of_the_sample_roster_across_the_border(run: Run) -> None:
    asked = run.step("/request 1 cellule risques chimiques")
    # the nearest hazmat unit of the sample roster, offered to its agency's chat in French
    assert "FR-SDIS59-CMIC-LIL1" in asked and "(SAMPLE)" in asked
    assert FR("This unit would cross the border.") in asked
    committed = run.step("presses [✅ Engager]")
    assert FR("Committed. Thank you.") in committed
    assert FR("Border crossing") in committed.split("meanwhile in CODIS 59:")[1]


def test_the_offer_is_shown_with_its_buttons_before_one_is_pressed(run: Run) -> None:
    asked = run.step("/request 1 cellule risques chimiques")
    offer = asked.split("meanwhile in SDIS 59 – engagement des moyens:")[1]
    commit, decline = f"✅ {FR('Commit')}", f"✖️ {FR('Decline')}"
    assert f"buttons: [{commit}] [{decline}]" in offer
    # the next step presses the very button the transcript showed
    pressed = run.steps[run.steps.index(asked) + 1]
    assert f"presses [{commit}]" in pressed.split("Passerelle:")[0]


def test_the_log_agrees_with_the_unit_committed(run: Run) -> None:
    asked = run.step("/request 1 cellule risques chimiques")
    offered = re.search(
        FR("{distance} km away · about {minutes} min on the road")
        .replace("{distance}", r"[\d,.]+")
        .replace("{minutes}", r"(\d+)"),
        asked,
    )
    assert offered is not None, asked
    logged = run.step("types: /log")
    said = logged.split("Passerelle:")[0]
    # the unit SDIS 59 committed (CMIC Lille), with the ETA it was offered with
    assert "CMIC Lille du SDIS 59" in said and "Roubaix" not in said
    assert f"dans {offered.group(1)} min" in said
    # logged once it was committed, not before it was even asked for
    committed = run.step("presses [")
    assert run.steps.index(committed) < run.steps.index(logged)
