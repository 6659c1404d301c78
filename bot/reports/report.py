"""The after-action report: everything the evaluation meeting needs about one incident, read
in one transaction. Rendering is elsewhere (bot.render.report: HTML; `to_json` here)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.core.db import Database, Tx, from_db_time, utcnow
from bot.core.models import (
    AlertLine,
    Incident,
    KeepStatus,
    KeptFile,
    MediaKind,
    Report,
    RequestLine,
    StatementLine,
    UnitLine,
)
from bot.core.text import DEFAULT
from bot.evidence import service as evidence
from bot.incidents import phases
from bot.incidents.service import incident_in, timeline_in
from bot.reports import evaluations
from bot.reports.thumbnails import thumbnail_of

ALL_ENTRIES = 100_000


def _time(value: str | None) -> datetime | None:
    return from_db_time(value) if value else None


def minutes_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60, 1)


async def _requests(tx: Tx, incident: Incident) -> list[RequestLine]:
    found = []
    for r in await tx.all(
        "SELECT r.*, p.name AS person FROM requests r LEFT JOIN people p ON p.id = r.requested_by"
        " WHERE r.incident_id = ? ORDER BY r.id",
        (incident.ref,),
    ):
        units = []
        for o in await tx.all(
            "SELECT o.*, u.code, u.name, u.agency, u.country, u.free FROM request_offers o"
            " JOIN units u ON u.id = o.unit_id WHERE o.request_id = ?"
            " AND o.status IN ('committed', 'en_route', 'on_scene', 'released') ORDER BY o.id",
            (r["id"],),
        ):
            requested = from_db_time(r["created_at"])
            committed = _time(o["decided_at"])
            arrived = _time(o["on_scene_at"])
            released = _time(o["released_at"])
            units.append(
                UnitLine(
                    code=o["code"],
                    name=o["name"],
                    agency=o["agency"],
                    country=o["country"],
                    crossed_border=o["country"] != incident.country.value,
                    status=o["status"],
                    distance_km=round(o["distance_km"], 1),
                    eta_minutes=o["eta_minutes"],
                    offered_at=from_db_time(o["offered_at"]),
                    committed_at=committed,
                    en_route_at=_time(o["en_route_at"]),
                    on_scene_at=arrived,
                    released_at=released,
                    request_to_commit_min=minutes_between(requested, committed),
                    commit_to_arrival_min=minutes_between(committed, arrived),
                    arrival_to_release_min=minutes_between(arrived, released),
                    request_to_arrival_min=minutes_between(requested, arrived),
                    places=o["amount"] if o["free"] is not None else None,
                )
            )
        found.append(
            RequestLine(
                id=r["id"],
                type=r["type"],
                quantity=r["quantity"],
                committed=r["committed"],
                status=r["status"],
                note=r["note"],
                requested_by=r["person"],
                requested_at=from_db_time(r["created_at"]),
                closed_at=_time(r["closed_at"]),
                units=tuple(units),
            )
        )
    return found


async def _alerts(tx: Tx, ref: int) -> list[AlertLine]:
    found = []
    for a in await tx.all(
        "SELECT a.*, (SELECT COUNT(*) FROM alert_targets t WHERE t.alert_id = a.id) AS chats,"
        " (SELECT COUNT(*) FROM alert_targets t WHERE t.alert_id = a.id"
        "  AND t.acked_at IS NOT NULL) AS acked"
        " FROM alerts a WHERE a.incident_id = ? ORDER BY a.id",
        (ref,),
    ):
        texts = json.loads(a["texts"])
        found.append(
            AlertLine(
                id=a["id"],
                severity=a["severity"],
                text=texts.get(DEFAULT) or next(iter(texts.values()), ""),
                sent_at=from_db_time(a["created_at"]),
                chats=a["chats"],
                acknowledged=a["acked"],
                # each language's version to its section of the report and to the export
                texts={k: v for k, v in texts.items() if k != DEFAULT},
            )
        )
    return found


async def _statements(tx: Tx, ref: int) -> list[StatementLine]:
    rows = await tx.all(
        "SELECT * FROM statements WHERE incident_id = ? AND status = 'published' ORDER BY id",
        (ref,),
    )
    return [StatementLine(r["id"], _time(r["decided_at"]), json.loads(r["texts"])) for r in rows]


async def collect(db: Database, ref: int) -> Report | None:
    async with db.read() as tx:
        return await collect_in(tx, ref)


async def collect_in(tx: Tx, ref: int) -> Report | None:
    incident = await incident_in(tx, ref)
    if incident is None:
        return None
    return Report(
        incident=incident,
        generated_at=utcnow(),
        timeline=tuple(await timeline_in(tx, ref, ALL_ENTRIES)),
        phases=tuple(await phases.history_in(tx, incident)),
        requests=tuple(await _requests(tx, incident)),
        alerts=tuple(await _alerts(tx, ref)),
        statements=tuple(await _statements(tx, ref)),
        evaluations=tuple(await evaluations.of_incident_in(tx, ref)),
        duration_min=minutes_between(incident.declared_at, incident.closed_at),
        files=tuple(await evidence.files_in(tx, ref)),
    )


def is_picture(kept: KeptFile) -> bool:
    """A photo, or a document that is an image (a photo sent "as a file" keeps its quality)."""
    item = kept.item
    return item.kind is MediaKind.PHOTO or (
        item.kind is MediaKind.DOCUMENT and (item.mime_type or "").startswith("image/")
    )


async def with_thumbnails(report: Report, folder: Path) -> Report:
    """The report with small copies of its kept pictures (read from the evidence folder), made
    apart from the event loop: decoding a phone's photo takes tens of milliseconds."""

    def made() -> dict[int, bytes]:
        found = {}
        for kept in report.files:
            if kept.status is KeepStatus.KEPT and kept.path and is_picture(kept):
                small = thumbnail_of(folder / kept.path)
                if small is not None:
                    found[kept.item.id] = small
        return found

    return replace(report, thumbnails=await asyncio.to_thread(made))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _file(kept: KeptFile, paths: Mapping[int, str] | None) -> dict[str, Any]:
    path = kept.path if paths is None else paths.get(kept.item.id)
    return {
        "item": kept.item.model_dump(),
        "status": kept.status.value,
        "path": path,
        "sha256": kept.sha256,
        "size": kept.size,
        "reason": kept.reason,
        "attempts": kept.attempts,
        "kept_at": kept.done_at,
    }


def to_json(report: Report, paths: Mapping[int, str] | None = None) -> str:
    """The same data as the HTML report, for other systems. A file's `path` is where it is
    kept, relative to the evidence folder, or, given `paths` (an export with its files), the
    path given there for its item."""
    data = {
        "format": "passerelle-after-action/1",
        "generated_at": report.generated_at,
        "incident": report.incident.model_dump(),
        "duration_min": report.duration_min,
        "timeline": [e.model_dump() for e in report.timeline],
        "phases": [asdict(p) for p in report.phases],
        "requests": [asdict(r) for r in report.requests],
        "cross_border": [asdict(u) for u in report.crossings],
        "alerts": [{**asdict(a), "ack_rate": a.ack_rate} for a in report.alerts],
        "statements": [asdict(s) for s in report.statements],
        "evaluations": [asdict(e) for e in report.evaluations],
        "files": [_file(kept, paths) for kept in report.files],
    }
    return json.dumps(_plain(data), ensure_ascii=False, indent=2)
