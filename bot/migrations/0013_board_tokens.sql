-- Personal links to the situation board (/board in a private chat): a command post's screen
-- opens the board with a token bound to one person. Only the token's SHA-256 is stored (a copy
-- of the database opens no board); it expires (expires_at) and `/board revoke` ends every
-- token of its person at once (revoked_at).
CREATE TABLE board_tokens (
    id          INTEGER PRIMARY KEY,
    person_id   BIGINT NOT NULL REFERENCES people (id),
    token_hash  TEXT NOT NULL UNIQUE,       -- hex SHA-256 of the token
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX board_tokens_person ON board_tokens (person_id, revoked_at);
