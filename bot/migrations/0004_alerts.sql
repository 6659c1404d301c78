-- Liaison alerts with acknowledgements, and media statements.

CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY,
    incident_id      INTEGER REFERENCES incidents (id),
    author_id        BIGINT NOT NULL REFERENCES people (id),
    severity         TEXT NOT NULL,
    texts            TEXT NOT NULL,       -- JSON {"": default, "fr": …, "nl": …}
    exercise         INTEGER NOT NULL DEFAULT 0,
    origin_chat_id   BIGINT NOT NULL,     -- where the liaison typed it: the tally lives there
    tally_message_id BIGINT,
    remind_at        TEXT,                -- when chats that have not acknowledged are reminded
    reminded_at      TEXT,
    created_at       TEXT NOT NULL
);
CREATE INDEX alerts_remind ON alerts (reminded_at, remind_at);

CREATE TABLE alert_targets (
    alert_id     INTEGER NOT NULL REFERENCES alerts (id),
    chat_id      BIGINT NOT NULL,
    message_id   BIGINT,                  -- set when the outbox delivered it
    delivered_at TEXT,
    acked_at     TEXT,                    -- the chat's first acknowledgement
    PRIMARY KEY (alert_id, chat_id)
);

CREATE TABLE alert_acks (
    alert_id  INTEGER NOT NULL REFERENCES alerts (id),
    chat_id   BIGINT NOT NULL,
    person_id BIGINT NOT NULL REFERENCES people (id),
    at        TEXT NOT NULL,
    PRIMARY KEY (alert_id, chat_id, person_id)
);

CREATE TABLE statements (
    id              INTEGER PRIMARY KEY,
    incident_id     INTEGER NOT NULL REFERENCES incidents (id),
    author_id       BIGINT NOT NULL REFERENCES people (id),
    origin_chat_id  BIGINT NOT NULL,
    texts           TEXT NOT NULL,        -- JSON, as for alerts
    version         INTEGER NOT NULL DEFAULT 1,   -- grows with each edit: old buttons go stale
    status          TEXT NOT NULL,        -- draft | published | rejected
    spokesperson_id BIGINT REFERENCES people (id),
    decided_by      BIGINT REFERENCES people (id),
    decided_at      TEXT,
    edit_prompt_id  BIGINT,               -- the private message the spokesperson replies to
    created_at      TEXT NOT NULL
);
CREATE INDEX statements_incident ON statements (incident_id, id);

-- Telegram's language for a person, so private messages sent later (drafts to the
-- spokesperson) are in their language even when they never used /lang.
ALTER TABLE people ADD COLUMN tg_language TEXT;
