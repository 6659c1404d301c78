-- Passerelle schema, version 1. Plain SQL that PostgreSQL would also accept where SQLite allows.

CREATE TABLE chats (
    id          BIGINT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    country     TEXT NOT NULL,
    languages   TEXT NOT NULL,          -- comma-separated: "fr,nl"
    agency      TEXT,
    timezone    TEXT NOT NULL,
    seed        TEXT,                   -- the configuration entry last applied (JSON)
    created_at  TEXT NOT NULL
);

CREATE TABLE people (
    id          BIGINT PRIMARY KEY,     -- Telegram user id
    name        TEXT NOT NULL,
    username    TEXT,
    roles       TEXT NOT NULL DEFAULT '',   -- comma-separated
    country     TEXT,
    agency      TEXT,
    language    TEXT,                   -- set by config or /lang; NULL: Telegram's language_code
    seed        TEXT,                   -- the configuration entry last applied (JSON)
    created_at  TEXT NOT NULL
);
CREATE INDEX people_username ON people (lower(username));

CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,    -- the short reference: #12
    chat_id         BIGINT NOT NULL REFERENCES chats (id) ON UPDATE CASCADE,
    title           TEXT NOT NULL,
    type            TEXT,
    severity        TEXT,
    status          TEXT NOT NULL,
    location_text   TEXT,
    lat             REAL,
    lon             REAL,
    country         TEXT NOT NULL,
    commander_id    BIGINT REFERENCES people (id),
    spokesperson_id BIGINT REFERENCES people (id),
    liaison_id      BIGINT REFERENCES people (id),
    exercise        INTEGER NOT NULL DEFAULT 0,
    declared_by     BIGINT REFERENCES people (id),
    declared_at     TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    closed_at       TEXT
);
CREATE INDEX incidents_chat_open ON incidents (chat_id, status, id);

CREATE TABLE timeline (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    kind        TEXT NOT NULL,
    author_id   BIGINT REFERENCES people (id),
    chat_id     BIGINT,
    message_id  BIGINT,
    field       TEXT,
    text        TEXT,
    lat         REAL,
    lon         REAL,
    at          TEXT NOT NULL
);
CREATE INDEX timeline_incident ON timeline (incident_id, id);

-- One card per incident and chat. `version` grows with every change; the publisher edits the
-- message until `shown_version` catches up, so a crash between a change and its edit is
-- repaired at the next start.
CREATE TABLE cards (
    incident_id   INTEGER NOT NULL REFERENCES incidents (id),
    chat_id       BIGINT NOT NULL,
    message_id    BIGINT,
    version       INTEGER NOT NULL DEFAULT 1,
    shown_version INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (incident_id, chat_id)
);
CREATE INDEX cards_pending ON cards (shown_version, version);

-- Every bot message about an incident, so that a reply to any of them reaches its timeline.
CREATE TABLE incident_messages (
    chat_id     BIGINT NOT NULL,
    message_id  BIGINT NOT NULL,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    PRIMARY KEY (chat_id, message_id)
);

-- Updates whose effects are stored: a redelivered update finds its id here and does nothing.
CREATE TABLE processed_updates (
    update_id   BIGINT PRIMARY KEY,
    at          TEXT NOT NULL
);
