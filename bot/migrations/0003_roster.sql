-- The resource roster and cross-border resource requests (EMSI statuses, EDXL-RM lifecycle).

CREATE TABLE units (
    id            INTEGER PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,   -- BE-WAPI-AMB-3
    type          TEXT NOT NULL,          -- bot.models.ResourceType
    name          TEXT NOT NULL,          -- name or call sign
    agency        TEXT NOT NULL,          -- matches chats.agency and people.agency
    country       TEXT NOT NULL,          -- FR | BE
    lat           REAL NOT NULL,          -- base
    lon           REAL NOT NULL,
    capacity      INTEGER NOT NULL DEFAULT 1,   -- beds, places, persons; 1 for a vehicle
    status        TEXT NOT NULL,          -- available | committed | unavailable | maintenance
    incident_id   INTEGER REFERENCES incidents (id),   -- while committed
    note          TEXT,
    sample        INTEGER NOT NULL DEFAULT 0,   -- fictitious sample data
    confirmed_at  TEXT,                   -- when its status was last confirmed
    confirmed_by  TEXT,                   -- by whom (a name, or "import")
    updated_at    TEXT NOT NULL
);
-- the nearest-unit search: available units of one type inside a bounding box
CREATE INDEX units_search ON units (type, status, lat, lon);
CREATE INDEX units_agency ON units (agency, code);
CREATE INDEX units_incident ON units (incident_id);

CREATE TABLE requests (
    id              INTEGER PRIMARY KEY,
    incident_id     INTEGER NOT NULL REFERENCES incidents (id),
    chat_id         BIGINT NOT NULL,      -- where it was asked: its card lives there
    type            TEXT NOT NULL,
    quantity        INTEGER NOT NULL,
    committed       INTEGER NOT NULL DEFAULT 0,   -- the race guard: never above quantity
    note            TEXT,
    status          TEXT NOT NULL,        -- waiting_location | open | filled | unfilled | cancelled
    requested_by    BIGINT REFERENCES people (id),
    card_message_id BIGINT,
    version         INTEGER NOT NULL DEFAULT 1,
    shown_version   INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    closed_at       TEXT
);
CREATE INDEX requests_incident ON requests (incident_id, status, id);
CREATE INDEX requests_pending_card ON requests (shown_version, version);
CREATE INDEX requests_waiting ON requests (status, chat_id);

-- One unit asked for one request, then its commitment and deployment.
CREATE TABLE request_offers (
    id           INTEGER PRIMARY KEY,
    request_id   INTEGER NOT NULL REFERENCES requests (id),
    unit_id      INTEGER NOT NULL REFERENCES units (id),
    distance_km  REAL NOT NULL,
    eta_minutes  INTEGER NOT NULL,
    amount       INTEGER NOT NULL DEFAULT 0,
    status       TEXT NOT NULL,   -- offered | declined | expired | withdrawn | committed | en_route | on_scene | released
    offered_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    decided_at   TEXT,
    decided_by   TEXT,
    en_route_at  TEXT,
    on_scene_at  TEXT,
    released_at  TEXT,
    UNIQUE (request_id, unit_id)
);
CREATE INDEX request_offers_due ON request_offers (status, expires_at);
CREATE INDEX request_offers_unit ON request_offers (unit_id, status);
