-- Capacity by the count. A facility (burns beds, ICU beds, shelter places, volunteers) is
-- never committed whole: it keeps a free count, and each commitment takes part of it (2 of 6).
-- A vehicle keeps free NULL and is committed whole, as before.
ALTER TABLE units ADD COLUMN free INTEGER;
-- when the facility's owner last reported its availability (an EDXL-HAVE document, /unit)
ALTER TABLE units ADD COLUMN reported_at TEXT;

-- How many places were asked of a facility (0 for a vehicle), the offer message's version in
-- the agency chats (bumped when the offer closes: the message is edited), and a recall.
ALTER TABLE request_offers ADD COLUMN asked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE request_offers ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE request_offers ADD COLUMN recalled_at TEXT;
ALTER TABLE request_offers ADD COLUMN recall_reason TEXT;

-- Each offer's message in each agency chat (message_id once the outbox sent it) and the
-- version it shows.
CREATE TABLE offer_messages (
    offer_id      INTEGER NOT NULL REFERENCES request_offers (id),
    chat_id       BIGINT NOT NULL,
    message_id    BIGINT,
    shown_version INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (offer_id, chat_id)
);

-- Facilities committed whole before: what they hold is taken from their count instead.
UPDATE units SET free = capacity - COALESCE((
        SELECT SUM(o.amount) FROM request_offers o
        WHERE o.unit_id = units.id AND o.status IN ('committed', 'en_route', 'on_scene')), 0)
    WHERE type IN ('burns_bed', 'icu_bed', 'shelter', 'volunteers');
UPDATE units SET free = 0 WHERE free < 0;
UPDATE units SET status = 'available', incident_id = NULL
    WHERE free IS NOT NULL AND status = 'committed';
-- what was asked of a facility: what it committed, or (still unanswered) all of it, as before
UPDATE request_offers SET asked = CASE WHEN amount > 0 THEN amount
        ELSE (SELECT u.capacity FROM units u WHERE u.id = request_offers.unit_id) END
    WHERE unit_id IN (SELECT id FROM units WHERE free IS NOT NULL);
