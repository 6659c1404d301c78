-- The download queue of the files on the timeline (issue 13): like the outbox, a row per file,
-- written in the transaction that records the item, worked through in the background with
-- retries, surviving a restart. Each file ends kept (path, SHA-256, size) or not kept, with
-- the reason: too big for the Bot API, the cap on total size, or what failed.
CREATE TABLE media_downloads (
    item_id       INTEGER PRIMARY KEY REFERENCES media_items (id),
    status        TEXT NOT NULL DEFAULT 'pending',  -- pending | kept | too_big | cap | failed
    attempts      INTEGER NOT NULL DEFAULT 0,
    not_before    TEXT NOT NULL,
    claimed_until TEXT,                   -- a keeper is working on it until then
    path          TEXT,                   -- relative to the evidence folder
    sha256        TEXT,
    size          INTEGER,                -- bytes kept
    reason        TEXT,                   -- why not kept (or the last error while pending)
    created_at    TEXT NOT NULL,
    done_at       TEXT
);
CREATE INDEX media_downloads_due ON media_downloads (status, not_before, item_id);
