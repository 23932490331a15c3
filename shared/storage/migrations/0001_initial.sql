-- Initial schema: documents, jobs, invoices, line items, the audit trail and embeddings.
-- Money is NUMERIC (exact, no fixed scale: unit prices carry more decimals than totals).
-- Every row carries its owner; queries filter on it (shared/storage/scope.py).

CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE jobs (
    id                  text PRIMARY KEY,                -- the orchestration instance id
    owner               text NOT NULL,
    source_blob         text NOT NULL,
    status              text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'completed', 'completed_with_errors', 'failed')),
    documents_total     integer NOT NULL DEFAULT 0 CHECK (documents_total >= 0),
    documents_succeeded integer NOT NULL DEFAULT 0 CHECK (documents_succeeded >= 0),
    documents_failed    integer NOT NULL DEFAULT 0 CHECK (documents_failed >= 0),
    error               text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_owner_created ON jobs (owner, created_at DESC, id DESC);
CREATE INDEX jobs_created ON jobs (created_at DESC, id DESC);

CREATE TABLE documents (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner            text NOT NULL,
    sha256           text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    blob_path        text NOT NULL,
    member_name      text,                                -- the ZIP member it came from, if any
    media_type       text,
    pages            integer CHECK (pages >= 0),
    text             text,                                -- parsed/OCR'd text, for re-validation
    status           text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'processing', 'extracted', 'failed')),
    rejection_code   text,
    rejection_reason text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- The same bytes twice for one owner are one document, whatever they were called.
    CONSTRAINT documents_owner_sha256 UNIQUE (owner, sha256),
    CONSTRAINT documents_failed_has_reason CHECK (status <> 'failed' OR rejection_code IS NOT NULL)
);

-- What each job did with each document; a document seen again in a later job is linked, not copied.
CREATE TABLE job_documents (
    job_id        text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name          text NOT NULL,                          -- blob or ZIP member name
    document_id   uuid REFERENCES documents (id) ON DELETE SET NULL,
    outcome       text NOT NULL
        CHECK (outcome IN ('pending', 'extracted', 'duplicate', 'failed')),
    error_code    text,
    error_message text,
    invoice_id    uuid,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, name)
);

CREATE TABLE invoices (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner                   text NOT NULL,
    document_id             uuid NOT NULL UNIQUE REFERENCES documents (id),
    vendor_name             text,
    vendor_address          text,
    vendor_tax_id           text,
    customer_name           text,
    customer_address        text,
    customer_tax_id         text,
    customer_id             text,
    invoice_id              text,
    invoice_date            date,
    due_date                date,
    purchase_order          text,
    payment_terms           text,
    service_start_date      date,
    service_end_date        date,
    currency                text CHECK (currency ~ '^[A-Z]{3}$'),
    subtotal                numeric,
    total_discount          numeric,
    total_tax               numeric,
    invoice_total           numeric,
    amount_due              numeric,
    previous_unpaid_balance numeric,
    iban                    text,
    swift                   text,
    bank_account_number     text,
    status                  text NOT NULL
        CHECK (status IN ('extracted', 'needs_review', 'approved', 'rejected')),
    confidence              jsonb NOT NULL DEFAULT '{}'::jsonb,
    warnings                text[] NOT NULL DEFAULT '{}',
    extractor               text NOT NULL,
    pages                   integer NOT NULL DEFAULT 0,
    version                 integer NOT NULL DEFAULT 1,   -- bumped on every change (ETag)
    search                  tsvector NOT NULL DEFAULT ''::tsvector,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz
);
-- Listing: one owner's live invoices newest first; by invoice date; and the admin's view.
CREATE INDEX invoices_owner_created ON invoices (owner, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX invoices_owner_date ON invoices (owner, (coalesce(invoice_date, '-infinity'::date)) DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX invoices_created ON invoices (created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX invoices_owner_status ON invoices (owner, status, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX invoices_vendor_trgm ON invoices USING gin (lower(vendor_name) gin_trgm_ops);
CREATE INDEX invoices_search ON invoices USING gin (search);

CREATE TABLE line_items (
    invoice_id   uuid NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position     integer NOT NULL CHECK (position >= 0),
    description  text,
    quantity     numeric,
    unit         text,
    unit_price   numeric,
    amount       numeric,
    tax          numeric,
    tax_rate     numeric,
    product_code text,
    date         date,
    PRIMARY KEY (invoice_id, position)
);

-- Audit trail: one row per changed field (or per action without a field), never updated.
CREATE TABLE invoice_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invoice_id uuid NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    owner      text NOT NULL,
    actor      text NOT NULL,
    action     text NOT NULL
        CHECK (action IN ('created', 'corrected', 'approved', 'rejected', 'deleted', 'restored')),
    field      text,
    old_value  jsonb,
    new_value  jsonb,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX invoice_events_invoice ON invoice_events (invoice_id, id);

-- One vector per invoice; the dimension is fixed by shared/embeddings.py (EMBEDDING_DIMENSIONS).
CREATE TABLE embeddings (
    invoice_id uuid PRIMARY KEY REFERENCES invoices (id) ON DELETE CASCADE,
    owner      text NOT NULL,
    model      text NOT NULL,
    embedding  vector(256) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX embeddings_hnsw ON embeddings USING hnsw (embedding vector_cosine_ops);
CREATE INDEX embeddings_owner ON embeddings (owner);
