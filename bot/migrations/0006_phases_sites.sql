-- Escalation phases per incident and country, the register of at-risk sites, and the
-- after-action evaluations.

-- One row per level an incident's country reached: ended_at is NULL for the current one.
-- No row for a country means its communal phase since the incident was declared.
CREATE TABLE incident_phases (
    id           INTEGER PRIMARY KEY,
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    country      TEXT NOT NULL,          -- FR | BE
    level        TEXT NOT NULL,          -- bot.phases.Level
    started_at   TEXT NOT NULL,
    started_by   BIGINT REFERENCES people (id),
    ended_at     TEXT
);
CREATE INDEX incident_phases_incident ON incident_phases (incident_id, country, id);

-- At-risk sites (the Geo-Alarm idea): Seveso plants, nuclear plants, rail yards, dams…
CREATE TABLE sites (
    id           INTEGER PRIMARY KEY,
    code         TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,          -- bot.sites.SiteKind
    country      TEXT NOT NULL,
    lat          REAL NOT NULL,
    lon          REAL NOT NULL,
    radius_km    REAL NOT NULL,          -- planning radius (PPI, PPUI / BNIP zone)
    hazards      TEXT,
    population   INTEGER,                -- inside the radius, where known
    plan         TEXT,                   -- the plan that applies: PPI …, PPUI / BNIP …
    sample       INTEGER NOT NULL DEFAULT 0,
    updated_at   TEXT NOT NULL
);
CREATE INDEX sites_position ON sites (lat, lon);

-- After-action evaluations: the commander's (party '') and each agency's whose unit
-- crossed the border.
CREATE TABLE evaluations (
    id           INTEGER PRIMARY KEY,
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    party        TEXT NOT NULL,          -- '' for the command, else the agency's name
    chat_id      BIGINT NOT NULL,        -- where it was asked
    message_id   BIGINT,                 -- the question, once delivered
    rating       INTEGER,                -- 1 to 5
    comment      TEXT,
    person_id    BIGINT REFERENCES people (id),
    asked_at     TEXT NOT NULL,
    answered_at  TEXT,
    UNIQUE (incident_id, party)
);
CREATE INDEX evaluations_message ON evaluations (chat_id, message_id);
