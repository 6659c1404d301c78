-- A message on the timeline that its author edits in Telegram: the entry shows the latest
-- wording (timeline.text) marked as edited (timeline.edited_at, Telegram's edit date); every
-- earlier wording is kept here, with when it was written and when it was replaced.
ALTER TABLE timeline ADD COLUMN edited_at TEXT;

CREATE TABLE timeline_revisions (
    id          INTEGER PRIMARY KEY,
    entry_id    INTEGER NOT NULL REFERENCES timeline (id),
    text        TEXT,
    written_at  TEXT NOT NULL,
    replaced_at TEXT NOT NULL
);
CREATE INDEX timeline_revisions_entry ON timeline_revisions (entry_id, id);

-- an edited message finds its entry
CREATE INDEX timeline_message ON timeline (chat_id, message_id);
