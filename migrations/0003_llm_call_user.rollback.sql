-- Undo: LLM calls no longer record whose turn they served.
DROP INDEX IF EXISTS llm_calls_user_idx;
ALTER TABLE llm_calls DROP COLUMN user_id;
