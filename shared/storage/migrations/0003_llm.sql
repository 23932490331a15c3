-- The LLM extractor: usage per invoice, a result cache, per-owner monthly budgets, and what
-- reviewers' corrections taught about each vendor.

-- Model, tokens, latency and cost of the LLM calls behind an invoice (NULL: rules only).
ALTER TABLE invoices ADD COLUMN llm jsonb;

-- One answer per owner, document content, model and prompt version: reprocessing the same
-- bytes costs nothing. Owner is part of the key so no account learns another's documents.
CREATE TABLE llm_results (
    owner          text NOT NULL,
    sha256         text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    model          text NOT NULL,
    prompt_version text NOT NULL,
    answer         jsonb NOT NULL,
    usage          jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, sha256, model, prompt_version)
);

-- Tokens each owner spent (or reserved for calls in flight) per calendar month, UTC.
CREATE TABLE llm_usage (
    owner             text NOT NULL,
    month             date NOT NULL CHECK (extract(day FROM month) = 1),
    tokens            bigint NOT NULL DEFAULT 0 CHECK (tokens >= 0),
    prompt_tokens     bigint NOT NULL DEFAULT 0,
    completion_tokens bigint NOT NULL DEFAULT 0,
    calls             integer NOT NULL DEFAULT 0,
    pages             integer NOT NULL DEFAULT 0,
    cost_usd          numeric NOT NULL DEFAULT 0,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, month)
);

-- A corrected invoice is an example for its vendor: few-shot material for the LLM and label
-- hints for the rules extractor. vendor_key is the folded vendor name.
CREATE TABLE vendor_examples (
    owner         text NOT NULL,
    invoice_id    uuid NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    vendor_key    text NOT NULL,
    vendor_tax_id text,
    excerpt       text NOT NULL,
    answer        jsonb NOT NULL,
    label_hints   jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, invoice_id)
);
CREATE INDEX vendor_examples_vendor ON vendor_examples (owner, vendor_key, updated_at DESC);
CREATE INDEX vendor_examples_tax_id ON vendor_examples (owner, vendor_tax_id, updated_at DESC)
    WHERE vendor_tax_id IS NOT NULL;
