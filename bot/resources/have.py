"""Hospitals' availability in OASIS EDXL-HAVE 1.0 (Hospital AVailability Exchange): a
hospital's document updates the free and total counts (and whether it takes patients at all)
of its facilities in the roster; the roster's facilities are written out as HAVE.

A document is checked against the OASIS schema (bot/data/have/edxl-have.xsd, with the CIQ and
GML files it imports) before anything is read from it. A hospital is named by its
OrganisationName, which is the roster's `agency` (case and accents aside). Counts are applied
all or nothing: a document naming a hospital the roster does not know, or counts that make no
sense (more free than there are), changes nothing.

Bed types (HAVE `BedType`) and roster types, both ways (`BED_TYPES`, `HAVE_TYPES`):

| HAVE BedType | roster type  | note                                              |
|--------------|--------------|---------------------------------------------------|
| Burn         | burns_bed    | burns ICU beds (HAVE keeps them out of AdultICU)  |
| AdultICU     | icu_bed      |                                                   |
| PediatricICU | icu_bed      | read only if the hospital reports no AdultICU     |

Other bed types (NeonatalICU, MedicalSurgical, EmergencyDepartment, …) have no roster type:
they are reported as ignored. Per bed type: `CapacityStatus` Vacant/Available or NotAvailable
(the facility's status: available or unavailable), `AvailableCount` (free places) and
`BaselineCount` (the total), at the hospital's `LastUpdateTime`. A report older than the one
already applied is ignored (documents may arrive out of order).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from lxml import etree

from bot.core.db import Database, UnitOfWork, to_db_time
from bot.core.errors import UserError
from bot.core.i18n import N_
from bot.core.models import ResourceType, Unit
from bot.core.vocabulary import fold
from bot.resources import units

NS = "urn:oasis:names:tc:emergency:EDXL:HAVE:1.0"
XNL = "urn:oasis:names:tc:ciq:xnl:3"
XPIL = "urn:oasis:names:tc:ciq:xpil:3"
GEO = "urn:oasis:names:tc:emergency:EDXL:HAVE:1.0:geo-oasis"
GML = "http://www.opengis.net/gml"
MAX_BYTES = 1_000_000  # a HAVE document larger than this is refused unread

# HAVE BedType → roster type (the table in the module's docstring and in the README)
BED_TYPES: dict[str, ResourceType] = {
    "Burn": ResourceType.BURNS_BED,
    "AdultICU": ResourceType.ICU_BED,
    "PediatricICU": ResourceType.ICU_BED,
}
# roster type → the HAVE BedType it is written as
HAVE_TYPES: dict[ResourceType, str] = {
    ResourceType.BURNS_BED: "Burn",
    ResourceType.ICU_BED: "AdultICU",
}
VACANT = "Vacant/Available"
NOT_AVAILABLE = "NotAvailable"


class HaveError(UserError):
    """A HAVE document refused (not XML, not HAVE, invalid, an unknown hospital, counts that
    make no sense): nothing was changed."""


@dataclass(frozen=True)
class BedReport:
    bed_type: str
    available: bool | None  # None: no CapacityStatus given
    free: int | None
    total: int | None


@dataclass(frozen=True)
class HospitalReport:
    name: str
    updated_at: datetime
    beds: tuple[BedReport, ...]


@dataclass
class HaveResult:
    """What a document changed: per facility code, (free, total); and what it did not."""

    updated: dict[str, tuple[int, int]] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)  # bed types without a roster type
    older: list[str] = field(default_factory=list)  # facilities with a newer report already
    hospitals: list[str] = field(default_factory=list)


@functools.cache
def _schema() -> Any:
    folder = resources.files("bot") / "data" / "have"
    with resources.as_file(folder / "edxl-have.xsd") as path:
        return etree.XMLSchema(etree.parse(str(path)))


def validate(document: bytes) -> Any:
    """The document's root element, once it is well-formed XML and valid EDXL-HAVE 1.0."""
    if len(document) > MAX_BYTES:
        raise HaveError(
            N_("The HAVE document is too large: at most {limit} bytes."), limit=MAX_BYTES
        )
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(document, parser)
    except etree.XMLSyntaxError as exc:
        raise HaveError(N_("This is not an XML document: {error}"), error=str(exc)) from None
    if root.tag != f"{{{NS}}}HospitalStatus":
        raise HaveError(
            N_("This is not an EDXL-HAVE document: its root is {tag}, not HospitalStatus."),
            tag=etree.QName(root).localname,
        )
    schema = _schema()
    if not schema.validate(root):
        error = schema.error_log.last_error
        raise HaveError(
            N_("The HAVE document does not follow the OASIS schema (line {line}): {error}"),
            line=error.line if error else 0,
            error=error.message if error else "?",
        )
    return root


def parse(document: bytes) -> list[HospitalReport]:
    root = validate(document)
    reports = []
    for hospital in root.iterfind(f"{{{NS}}}Hospital"):
        names = [
            " ".join("".join(e.itertext()).split())
            for e in hospital.iterfind(
                f"{{{NS}}}Organization/{{{NS}}}OrganizationInformation/{{{XNL}}}OrganisationName"
            )
        ]
        name = next((n for n in names if n), "")
        updated = datetime.fromisoformat(
            hospital.findtext(f"{{{NS}}}LastUpdateTime", "").strip().replace("Z", "+00:00")
        )
        if updated.tzinfo is None:
            updated = updated.replace(tzinfo=UTC)
        beds = []
        for capacity in hospital.iterfind(f"{{{NS}}}HospitalBedCapacityStatus/{{{NS}}}BedCapacity"):
            counts = capacity.find(f"{{{NS}}}Capacity")
            status = counts.findtext(f"{{{NS}}}CapacityStatus") if counts is not None else None
            free = counts.findtext(f"{{{NS}}}AvailableCount") if counts is not None else None
            total = counts.findtext(f"{{{NS}}}BaselineCount") if counts is not None else None
            for bed_type in capacity.iterfind(f"{{{NS}}}BedType"):
                beds.append(
                    BedReport(
                        bed_type=(bed_type.text or "").strip(),
                        available=None if status is None else status.strip() == VACANT,
                        free=int(free) if free is not None else None,
                        total=int(total) if total is not None else None,
                    )
                )
        reports.append(HospitalReport(name, updated.astimezone(UTC), tuple(beds)))
    return reports


async def apply(
    work: UnitOfWork, document: bytes, *, by: str, hospital: str | None = None
) -> HaveResult:
    """Apply a HAVE document in the caller's unit of work. With `hospital` (the endpoint's
    token names one), a document about any other hospital is refused."""
    return await apply_reports(work, parse(document), by=by, hospital=hospital)


async def apply_reports(
    work: UnitOfWork, reports: list[HospitalReport], *, by: str, hospital: str | None = None
) -> HaveResult:
    """`apply`, for a document parsed already (the endpoint parses it off the loop)."""
    result = HaveResult()
    facilities = await units.roster_in(work)
    for report in reports:
        if hospital is not None and fold(report.name) != fold(hospital):
            raise HaveError(
                N_("This token is for {hospital}: it cannot report for {name}."),
                hospital=hospital,
                name=report.name or "?",
            )
        own = [u for u in facilities if u.counted and fold(u.agency) == fold(report.name)]
        if not own:
            raise HaveError(
                N_("No facility of the roster belongs to {name}: nothing was changed."),
                name=report.name or "?",
            )
        result.hospitals.append(own[0].agency)
        chosen = _chosen_beds(report.beds)
        for bed in report.beds:
            if bed.bed_type not in BED_TYPES:
                result.ignored.append(f"{report.name}: {bed.bed_type}")
        for type_, bed in chosen.items():
            matching = [u for u in own if u.type is type_]
            if not matching:
                result.ignored.append(f"{report.name}: {bed.bed_type}")
                continue
            for unit in matching[:1]:
                await _apply_bed(work, unit, bed, report, result, by)
    return result


def _chosen_beds(beds: tuple[BedReport, ...]) -> dict[ResourceType, BedReport]:
    """Per roster type, the bed type that counts (AdultICU before PediatricICU)."""
    chosen: dict[ResourceType, BedReport] = {}
    for name in BED_TYPES:  # in the table's order
        for bed in beds:
            if bed.bed_type == name and BED_TYPES[name] not in chosen:
                chosen[BED_TYPES[name]] = bed
    return chosen


async def _apply_bed(
    work: UnitOfWork,
    unit: Unit,
    bed: BedReport,
    report: HospitalReport,
    result: HaveResult,
    by: str,
) -> None:
    if unit.reported_at is not None and unit.reported_at > report.updated_at:
        result.older.append(unit.code)
        return
    total = bed.total if bed.total is not None else unit.capacity
    free = bed.free if bed.free is not None else (unit.free or 0)
    if bed.available is False and bed.free is None:
        free = 0
    try:
        units.check_places(free, total)
    except UserError as exc:
        raise HaveError(
            N_("{code} ({bed_type}): {problem} Nothing was changed."),
            code=unit.code,
            bed_type=bed.bed_type,
            problem=exc,
        ) from None
    await units.report_places(
        work,
        unit,
        free=free,
        total=total,
        available=bed.available,
        at=to_db_time(report.updated_at),
        by=by,
    )
    result.updated[unit.code] = (free, total)


# --- export ---------------------------------------------------------------------------------


async def export(db: Database) -> bytes:
    """The roster's hospital facilities (the types HAVE knows) as one HAVE document, one
    Hospital per agency, its counts as last reported."""
    async with db.read() as tx:
        found = [u for u in await units.roster_in(tx) if u.type in HAVE_TYPES]
    by_agency: dict[str, list[Unit]] = {}
    for unit in sorted(found, key=lambda u: (u.agency, u.code)):
        by_agency.setdefault(unit.agency, []).append(unit)
    nsmap = {None: NS, "xnl": XNL, "xpil": XPIL, "geo": GEO, "gml": GML}
    root = etree.Element(f"{{{NS}}}HospitalStatus", nsmap=nsmap)
    for agency, facilities in by_agency.items():
        hospital = etree.SubElement(root, f"{{{NS}}}Hospital")
        organization = etree.SubElement(hospital, f"{{{NS}}}Organization")
        information = etree.SubElement(organization, f"{{{NS}}}OrganizationInformation")
        name = etree.SubElement(information, f"{{{XNL}}}OrganisationName")
        etree.SubElement(name, f"{{{XNL}}}NameElement").text = agency
        where = etree.SubElement(organization, f"{{{NS}}}OrganizationGeoLocation")
        point = etree.SubElement(where, f"{{{GML}}}Point")
        first = facilities[0]
        etree.SubElement(point, f"{{{GML}}}pos").text = f"{first.lat:.5f} {first.lon:.5f}"
        beds = etree.SubElement(hospital, f"{{{NS}}}HospitalBedCapacityStatus")
        for unit in facilities:
            capacity = etree.SubElement(beds, f"{{{NS}}}BedCapacity")
            etree.SubElement(capacity, f"{{{NS}}}BedType").text = HAVE_TYPES[unit.type]
            counts = etree.SubElement(capacity, f"{{{NS}}}Capacity")
            free = unit.free or 0
            vacant = unit.status.value == "available" and free > 0
            etree.SubElement(counts, f"{{{NS}}}CapacityStatus").text = (
                VACANT if vacant else NOT_AVAILABLE
            )
            etree.SubElement(counts, f"{{{NS}}}AvailableCount").text = str(free)
            etree.SubElement(counts, f"{{{NS}}}BaselineCount").text = str(unit.capacity)
            etree.SubElement(capacity, f"{{{NS}}}CommentText").text = f"{unit.code} {unit.name}"
        moments = [u.reported_at or u.confirmed_at for u in facilities]
        latest = max((m for m in moments if m is not None), default=None)
        etree.SubElement(hospital, f"{{{NS}}}LastUpdateTime").text = _have_time(latest)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _have_time(moment: datetime | None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
