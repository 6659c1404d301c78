-- The durable outbox: every message to a chat other than the one that asked is written here in
-- the transaction of the change that causes it, and delivered by the outbox sender.

CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY,
    chat_id       BIGINT NOT NULL,
    purpose       TEXT NOT NULL,          -- offer, alert, notice, statement, …
    html          TEXT NOT NULL,
    reply_markup  TEXT,                   -- JSON, Telegram's InlineKeyboardMarkup
    incident_id   INTEGER REFERENCES incidents (id),
    subject_id    INTEGER,                -- the alert, request or statement it is about
    dedupe_key    TEXT UNIQUE,            -- the same key is never queued twice
    status        TEXT NOT NULL DEFAULT 'pending',   -- pending | sent | failed | unreachable
    attempts      INTEGER NOT NULL DEFAULT 0,
    not_before    TEXT NOT NULL,
    claimed_until TEXT,                   -- a sender is working on it until then
    message_id    BIGINT,
    last_error    TEXT,
    created_at    TEXT NOT NULL,
    sent_at       TEXT
);
CREATE INDEX outbox_due ON outbox (status, not_before, id);
CREATE INDEX outbox_chat ON outbox (chat_id, status, id);

ALTER TABLE chats ADD COLUMN unreachable_at TEXT;
