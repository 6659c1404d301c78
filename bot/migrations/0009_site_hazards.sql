-- A site's hazards are a vocabulary (codes separated by ';', bot.core.models.Hazard);
-- whatever else the register says about them is a free note beside them. Older free-text
-- hazards are read as the note (bot.geo.sites).
ALTER TABLE sites ADD COLUMN hazard_note TEXT;
