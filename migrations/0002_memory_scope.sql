-- Memories belong to the place they were made: one guild, the user's DMs, or the
-- local console; or everywhere when the user asks for it.
-- depends: 0001_schema

ALTER TABLE memories DROP CONSTRAINT memories_scope_check;
ALTER TABLE memories ALTER COLUMN scope DROP DEFAULT;
ALTER TABLE memories ADD COLUMN guild_id BIGINT;

-- Rows from before this migration carry no record of where they were made: any of
-- them may hold something said in a DM. 'unknown' memories are used in DMs only, the
-- one place where nobody but their author reads the answer.
UPDATE memories SET scope = 'unknown';
-- Except the console's (discord_id 0 is never a Discord user): that is its own place.
UPDATE memories m SET scope = 'console' FROM users u
WHERE u.id = m.user_id AND u.discord_id = 0;

ALTER TABLE memories ADD CONSTRAINT memories_scope_check
    CHECK (scope IN ('guild', 'dm', 'console', 'everywhere', 'unknown'));
ALTER TABLE memories ADD CONSTRAINT memories_guild_check
    CHECK ((scope = 'guild') = (guild_id IS NOT NULL));
