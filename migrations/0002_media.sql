-- 0002_media.sql: uploaded files kept in the database (issue 18).
-- media: one row per stored file, content-addressed by the SHA-256 of the bytes served
-- (lower-case hex), so an identical upload is found, not stored twice. state 'pending'
-- while its chunks are being written (each chunk its own short write, so a 20 MiB upload
-- never holds the writer for long), 'ready' once all are in; only ready media are listed
-- and served. width/height for images (after EXIF orientation), else NULL.
CREATE TABLE media (
    id          INTEGER PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE,
    filename    TEXT NOT NULL,
    mime        TEXT NOT NULL,
    bytes       INTEGER NOT NULL CHECK (bytes >= 0),
    width       INTEGER,
    height      INTEGER,
    chunks      INTEGER NOT NULL CHECK (chunks >= 0),
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'ready')),
    created_at  TEXT NOT NULL
);
CREATE INDEX media_created ON media(created_at);

-- The bytes, in chunks of at most 512 KiB (seq from 0): a Range request reads only the
-- chunks it needs.
CREATE TABLE media_chunks (
    media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL CHECK (seq >= 0),
    data     BLOB NOT NULL,
    PRIMARY KEY (media_id, seq)
) WITHOUT ROWID;

-- Resized copies of an image (WebP), made once by the media-variants job.
CREATE TABLE media_variants (
    media_id INTEGER NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    width    INTEGER NOT NULL CHECK (width > 0),
    height   INTEGER NOT NULL CHECK (height > 0),
    mime     TEXT NOT NULL,
    data     BLOB NOT NULL,
    PRIMARY KEY (media_id, width)
) WITHOUT ROWID;
