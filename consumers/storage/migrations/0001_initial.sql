-- The legal-document pipeline's tables. Every row is keyed by a deterministic id
-- (derived from content, offsets or canonical names), so a redelivered or
-- replayed message upserts the same rows and never adds duplicates.

CREATE TABLE batches (
    id          text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A document is its bytes: id 'd' || the first 24 hex digits of their sha256.
-- status: queued | processing | done | failed; stage: the last stage that finished.
CREATE TABLE documents (
    id          text PRIMARY KEY,
    sha256      text NOT NULL UNIQUE,
    source      text NOT NULL,
    kind        text NOT NULL,
    size        bigint NOT NULL,
    object_key  text,
    status      text NOT NULL DEFAULT 'queued',
    stage       text,
    error       text,
    page_count  integer,
    text_length integer,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_status ON documents (status);

-- Which documents a batch holds, under the name it was submitted with.
CREATE TABLE batch_documents (
    batch_id    text NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    document_id text NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    source      text NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, document_id)
);
CREATE INDEX batch_documents_document ON batch_documents (document_id);

-- Page text; start_offset/end_offset locate the page in the joined document
-- text (consumers.chunking.join_pages), which every later offset refers to.
CREATE TABLE pages (
    document_id  text NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    number       integer NOT NULL,
    text         text NOT NULL,
    ocr          boolean NOT NULL,
    start_offset integer NOT NULL,
    end_offset   integer NOT NULL,
    PRIMARY KEY (document_id, number)
);

CREATE TABLE chunks (
    document_id  text NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    index        integer NOT NULL,
    start_offset integer NOT NULL,
    end_offset   integer NOT NULL,
    pages        integer[] NOT NULL,
    text         text NOT NULL,
    text_sha256  text NOT NULL,
    PRIMARY KEY (document_id, index)
);

-- Canonical entities: id = consumers.resolve.canonical_id(type, key).
CREATE TABLE entities (
    id           text PRIMARY KEY,
    type         text NOT NULL,
    key          text NOT NULL,
    name         text NOT NULL,
    blocking_key text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX entities_block ON entities (type, blocking_key);

-- Mentions in document offsets; id from document, type and span.
CREATE TABLE mentions (
    id           text PRIMARY KEY,
    document_id  text NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    type         text NOT NULL,
    text         text NOT NULL,
    start_offset integer NOT NULL,
    end_offset   integer NOT NULL,
    page         integer,
    role         text,
    attrs        jsonb NOT NULL DEFAULT '[]',
    extractor    text NOT NULL,
    entity_id    text REFERENCES entities (id)
);
CREATE INDEX mentions_document ON mentions (document_id, start_offset);
CREATE INDEX mentions_entity ON mentions (entity_id);

-- Edges of a document's graph; id = consumers.graph.Edge.id (one edge may
-- appear in several documents, so the key includes the document).
CREATE TABLE relationships (
    document_id text NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    id          text NOT NULL,
    type        text NOT NULL,
    source      text NOT NULL,
    target      text NOT NULL,
    attrs       jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (document_id, id)
);
CREATE INDEX relationships_source ON relationships (source);
CREATE INDEX relationships_target ON relationships (target);
