"""EDXL-HAVE 1.0: a hospital's document updates its beds in the roster (all or nothing), the
roster is written as HAVE, and both are checked against the OASIS schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from bot import cli
from bot.core.db import Database
from bot.core.models import UnitStatus
from bot.resources import have, roster_csv
from bot.resources import units as resources

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = etree.XMLSchema(etree.parse(str(ROOT / "bot" / "data" / "have" / "edxl-have.xsd")))


def document(
    hospital: str = "CHU de Lille",
    beds: tuple[tuple[str, str, int, int], ...] = (("Burn", "Vacant/Available", 1, 2),),
    when: str = "2026-11-30T09:15:00+01:00",
) -> bytes:
    capacities = "".join(
        f"<BedCapacity><BedType>{kind}</BedType><Capacity><CapacityStatus>{status}"
        f"</CapacityStatus><AvailableCount>{free}</AvailableCount><BaselineCount>{total}"
        "</BaselineCount></Capacity></BedCapacity>"
        for kind, status, free, total in beds
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<HospitalStatus xmlns="urn:oasis:names:tc:emergency:EDXL:HAVE:1.0"'
        ' xmlns:xnl="urn:oasis:names:tc:ciq:xnl:3"><Hospital><Organization>'
        "<OrganizationInformation><xnl:OrganisationName><xnl:NameElement>"
        f"{hospital}</xnl:NameElement></xnl:OrganisationName></OrganizationInformation>"
        f"</Organization><HospitalBedCapacityStatus>{capacities}</HospitalBedCapacityStatus>"
        f"<LastUpdateTime>{when}</LastUpdateTime></Hospital></HospitalStatus>"
    ).encode()


@pytest.fixture
async def sample(db: Database) -> Database:
    sample = (ROOT / "bot" / "data" / "roster_sample.csv").read_text(encoding="utf-8")
    await roster_csv.import_roster(db, sample)
    return db


async def _apply(db: Database, doc: bytes, hospital: str | None = None) -> have.HaveResult:
    async with db.unit() as work:
        return await have.apply(work, doc, by="test", hospital=hospital)


async def test_the_test_document_follows_the_oasis_schema() -> None:
    assert SCHEMA.validate(etree.fromstring(document())), SCHEMA.error_log


async def test_a_document_updates_the_hospitals_beds(sample: Database) -> None:
    doc = document(
        beds=(
            ("Burn", "Vacant/Available", 1, 2),
            ("AdultICU", "NotAvailable", 0, 5),
            ("NeonatalICU", "Vacant/Available", 3, 3),
        )
    )
    result = await _apply(sample, doc)
    assert result.updated == {"FR-CHULILLE-BURN-1": (1, 2), "FR-CHULILLE-ICU-1": (0, 5)}
    assert result.ignored == ["CHU de Lille: NeonatalICU"]
    burns = await resources.get_unit(sample, "FR-CHULILLE-BURN-1")
    icu = await resources.get_unit(sample, "FR-CHULILLE-ICU-1")
    assert burns is not None and icu is not None
    assert (burns.free, burns.capacity, burns.status) == (1, 2, UnitStatus.AVAILABLE)
    assert (icu.free, icu.capacity, icu.status) == (0, 5, UnitStatus.UNAVAILABLE)
    assert burns.reported_at is not None and burns.reported_at.isoformat().startswith(
        "2026-11-30T08:15"
    )
    # an older document (they may arrive out of order) leaves the newer counts
    result = await _apply(sample, document(when="2026-11-30T07:00:00Z"))
    assert result.older == ["FR-CHULILLE-BURN-1"] and result.updated == {}


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        (b"not xml at all", "not an XML document"),
        (b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'/>", "not an EDXL-HAVE document"),
        (document().replace(b"LastUpdateTime>", b"LastUpdate>"), "OASIS schema"),
        (document(beds=(("Burn", "Vacant/Available", -1, 2),)), "negative"),
        (document(beds=(("Burn", "Vacant/Available", 9, 2),)), "more than the 2 places"),
        (document(hospital="Hôpital inconnu"), "No facility of the roster belongs to"),
    ],
)
async def test_bad_documents_change_nothing(sample: Database, doc: bytes, words: str) -> None:
    before = await resources.roster(sample)
    with pytest.raises(have.HaveError) as refused:
        await _apply(sample, doc)
    assert words in str(refused.value)
    assert await resources.roster(sample) == before


async def test_a_token_reports_for_its_own_hospital_only(sample: Database) -> None:
    with pytest.raises(have.HaveError, match="cannot report for"):
        await _apply(sample, document(hospital="UZ Gent"), hospital="CHU de Lille")


async def test_the_roster_is_written_as_valid_have(sample: Database) -> None:
    doc = await have.export(sample)
    root = etree.fromstring(doc)
    assert SCHEMA.validate(root), SCHEMA.error_log
    reports = {r.name: r for r in have.parse(doc)}
    assert {"CHU de Lille", "GHdC", "UZ Gent"} <= set(reports)
    lille = {b.bed_type: (b.free, b.total) for b in reports["CHU de Lille"].beds}
    assert lille == {"Burn": (2, 2), "AdultICU": (4, 4)}
    # written out and read back: the same counts
    result = await _apply(sample, doc)
    assert result.updated["FR-CHULILLE-BURN-1"] == (2, 2)


def test_the_command_line_imports_and_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "cli.db"}"\n', encoding="utf-8")
    sample = ROOT / "bot" / "data" / "roster_sample.csv"
    assert cli.main(["--config", str(config), "roster", "import", str(sample)]) == 0
    update = tmp_path / "lille.xml"
    update.write_bytes(document())
    assert cli.main(["--config", str(config), "have", "import", str(update)]) == 0
    assert "FR-CHULILLE-BURN-1: 1 / 2 free" in capsys.readouterr().out
    bad = tmp_path / "bad.xml"
    bad.write_bytes(document(hospital="Nobody"))
    assert cli.main(["--config", str(config), "have", "import", str(bad)]) == 1
    assert "nothing was changed" in capsys.readouterr().err
    out = tmp_path / "roster.xml"
    assert cli.main(["--config", str(config), "have", "export", str(out)]) == 0
    assert SCHEMA.validate(etree.parse(str(out)))
    assert b"<AvailableCount>1</AvailableCount>" in out.read_bytes()
