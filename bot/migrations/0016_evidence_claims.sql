-- Which instance is downloading a file (with claimed_until), as the outbox's claimed_by: an
-- instance that starts takes back only its own claims and those of instances that died, not
-- the downloads another instance alive has under way.
ALTER TABLE media_downloads ADD COLUMN claimed_by TEXT;
