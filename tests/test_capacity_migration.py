"""Migration 0015: facilities committed whole before it keep what they hold, by the count."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.core.db import _split_sql

MIGRATIONS = Path(__file__).resolve().parent.parent / "bot" / "migrations"


def test_facilities_committed_whole_become_counts() -> None:
    conn = sqlite3.connect(":memory:")
    for path in sorted(MIGRATIONS.glob("*.sql")):
        if path.name >= "0015":
            break
        for statement in _split_sql(path.read_text(encoding="utf-8")):
            conn.execute(statement)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute(
        "INSERT INTO units (id, code, type, name, agency, country, lat, lon, capacity, status,"
        " incident_id, updated_at) VALUES"
        " (1, 'B', 'burns_bed', 'n', 'a', 'FR', 50, 3, 6, 'committed', 1, 't'),"
        " (2, 'C', 'icu_bed', 'n', 'a', 'FR', 50, 3, 4, 'available', NULL, 't'),"
        " (3, 'V', 'ambulance', 'n', 'a', 'FR', 50, 3, 1, 'committed', 1, 't')"
    )
    conn.execute(
        "INSERT INTO request_offers (request_id, unit_id, distance_km, eta_minutes, amount,"
        " status, offered_at, expires_at) VALUES (1, 1, 1, 1, 2, 'on_scene', 't', 't'),"
        " (1, 2, 1, 1, 0, 'offered', 't', 't'), (1, 3, 1, 1, 1, 'committed', 't', 't')"
    )
    for statement in _split_sql((MIGRATIONS / "0015_capacity.sql").read_text(encoding="utf-8")):
        conn.execute(statement)
    units = conn.execute("SELECT code, free, status, incident_id FROM units ORDER BY id")
    assert units.fetchall() == [
        ("B", 4, "available", None),  # 6 beds, 2 held: 4 free, no longer taken whole
        ("C", 4, "available", None),
        ("V", None, "committed", 1),  # a vehicle is still committed whole
    ]
    offers = conn.execute("SELECT unit_id, asked FROM request_offers ORDER BY id").fetchall()
    assert offers == [(1, 2), (2, 4), (3, 0)]
