-- Each message records the transport its turn came through (discord, console, voice),
-- so a spoken turn is told from a typed one in history, exports and statistics. A
-- reply carries the source of the turn it answers (a voice turn's answer was spoken).
-- depends: 0003_llm_call_user

-- Rows from before this migration stay NULL: nobody recorded how they arrived.
ALTER TABLE messages ADD COLUMN source TEXT;
ALTER TABLE messages ADD CONSTRAINT messages_source_check
    CHECK (source IN ('discord', 'console', 'voice'));
