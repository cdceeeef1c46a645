-- Combined relay posts (issue 13): under a steady load a linked channel receives more
-- translated messages than Discord lets a channel post (about 30 webhook messages a
-- minute), so the relay combines waiting messages of several authors, even from several
-- channels, into one post whose lines read "**author**: text". To re-render such a post
-- when one of its lines is edited or deleted (also after a restart), each original
-- keeps what its line shows.
-- depends: 0007_translation_links

-- ``author_name``: the line's author as shown (NULL: a row from before this migration,
-- whose post names its one author); ``source_channel_id``: where the original was
-- written (NULL: the post's); ``reply_to_id``: the message the line points to in the
-- post's channel; ``translations``: the line's text per language, so that an edit of one
-- line re-translates that line only and a deletion re-renders without the model.
ALTER TABLE translation_post_sources
    ADD COLUMN author_name TEXT,
    ADD COLUMN source_channel_id BIGINT,
    ADD COLUMN reply_to_id BIGINT,
    ADD COLUMN translations JSONB;

-- ``combined``: posted under Libra's own webhook name with a named line per author (a
-- webhook message keeps its username when edited, so this decides how it is re-rendered).
ALTER TABLE translation_posts ADD COLUMN combined BOOLEAN NOT NULL DEFAULT false;
