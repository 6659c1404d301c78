-- Media on the timeline (issue 13): what the field sends (a photo, a video, a video note, a
-- voice note, an audio file, a document, a shared contact or venue) as items of one timeline
-- entry of kind 'media'. An album (messages sharing a media_group_id) is one entry with all its
-- items. Telegram's file reference is kept (file_id to download it again, file_unique_id the
-- same file whoever sends it); the file itself is kept by the download queue (0011).
CREATE TABLE media_items (
    id              INTEGER PRIMARY KEY,
    entry_id        INTEGER NOT NULL REFERENCES timeline (id),
    incident_id     INTEGER NOT NULL REFERENCES incidents (id),
    chat_id         BIGINT NOT NULL,
    message_id      BIGINT NOT NULL,
    media_group_id  TEXT,                   -- the album it came in, if any
    kind            TEXT NOT NULL,          -- photo | video | video_note | voice | audio |
                                            -- document | contact | venue
    author_id       BIGINT REFERENCES people (id),
    caption         TEXT,
    file_id         TEXT,
    file_unique_id  TEXT,
    file_size       INTEGER,                -- bytes, as Telegram gives it
    duration        INTEGER,                -- seconds
    width           INTEGER,
    height          INTEGER,
    mime_type       TEXT,
    file_name       TEXT,
    name            TEXT,                   -- a contact's name, a venue's title
    phone           TEXT,                   -- a contact's phone number
    address         TEXT,                   -- a venue's address
    lat             REAL,                   -- a venue's coordinates
    lon             REAL,
    at              TEXT NOT NULL,
    UNIQUE (chat_id, message_id)
);
CREATE INDEX media_items_entry ON media_items (entry_id, id);
CREATE INDEX media_items_incident ON media_items (incident_id, id);
CREATE INDEX media_items_album ON media_items (chat_id, media_group_id);
