-- Each LLM call records whose turn it served, so that a user's export includes their
-- calls and deleting the user deletes them (calls for nobody, e.g. warm-ups, stay NULL).
-- depends: 0002_memory_scope

ALTER TABLE llm_calls ADD COLUMN user_id INTEGER REFERENCES users(id) ON DELETE CASCADE;
CREATE INDEX llm_calls_user_idx ON llm_calls (user_id);
