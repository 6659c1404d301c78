-- What each bot message about an incident is, so that a reply to it is routed by one lookup:
-- the card or a notice (a note for the timeline), a request card (also a place name for a
-- request that waits for one), an evaluation question (its comment).
ALTER TABLE incident_messages ADD COLUMN purpose TEXT;
ALTER TABLE incident_messages ADD COLUMN subject_id INTEGER;

UPDATE incident_messages SET purpose = 'request',
    subject_id = (SELECT r.id FROM requests r WHERE r.chat_id = incident_messages.chat_id
                  AND r.card_message_id = incident_messages.message_id)
WHERE EXISTS (SELECT 1 FROM requests r WHERE r.chat_id = incident_messages.chat_id
              AND r.card_message_id = incident_messages.message_id);

INSERT INTO incident_messages (chat_id, message_id, incident_id, purpose, subject_id)
SELECT chat_id, message_id, incident_id, 'evaluation', id FROM evaluations
WHERE message_id IS NOT NULL
ON CONFLICT (chat_id, message_id) DO NOTHING;

-- The liaison's tally is a live message like the cards: versioned, caught up after a restart.
ALTER TABLE alerts ADD COLUMN tally_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN tally_shown INTEGER NOT NULL DEFAULT 0;
UPDATE alerts SET tally_shown = tally_version;
