-- Claims of updates are dropped once Telegram can no longer deliver them again (housekeeping).
CREATE INDEX processed_updates_at ON processed_updates (at);
