-- Undo memory scopes. Every memory becomes usable everywhere again (as before 0002):
-- the place each one was made is lost.
ALTER TABLE memories DROP CONSTRAINT memories_guild_check;
ALTER TABLE memories DROP CONSTRAINT memories_scope_check;
ALTER TABLE memories DROP COLUMN guild_id;
UPDATE memories SET scope = 'user';
ALTER TABLE memories ALTER COLUMN scope SET DEFAULT 'user';
ALTER TABLE memories ADD CONSTRAINT memories_scope_check
    CHECK (scope IN ('user', 'guild', 'channel'));
