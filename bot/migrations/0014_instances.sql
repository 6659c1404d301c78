-- Several instances on one database (issue 15).

-- A lease: who holds `name` (the polling leader, a live message being edited, a job's run)
-- until when. Taken, renewed and released each by one statement (bot/cluster/leases.py).
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,            -- the instance's name
    expires_at  TEXT NOT NULL             -- UTC; free for anyone after
);
CREATE INDEX leases_holder ON leases (holder);

-- Each instance's heartbeat: the live ones share Telegram's overall pace, /health shows them.
CREATE TABLE instances (
    name        TEXT PRIMARY KEY,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    mode        TEXT NOT NULL,            -- polling | webhook
    started_at  TEXT NOT NULL,
    seen_at     TEXT NOT NULL,            -- its last heartbeat
    stopped_at  TEXT                      -- set when it stopped cleanly
);

-- Which instance is sending an outbox row (with claimed_until).
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
