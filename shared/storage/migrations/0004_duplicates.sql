-- Near duplicates: an invoice stored from different bytes that is probably one the owner already
-- has (a rescan, a photo, a re-sent PDF) points at the earlier invoice (shared/storage/duplicates.py).

ALTER TABLE invoices
    ADD COLUMN duplicate_of uuid REFERENCES invoices (id) ON DELETE SET NULL,
    ADD CONSTRAINT invoices_not_own_duplicate CHECK (duplicate_of <> id);

-- What identifies an invoice across renderings: letters and digits only, upper case, so
-- "INV-2024/001", "inv 2024 001" and an OCR'd "INV2024001" compare equal.
CREATE FUNCTION duplicate_key(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN nullif(upper(regexp_replace(value, '[^[:alnum:]]+', '', 'g')), '');

-- Same owner, invoice number and total among live invoices; the vendor (its name or its tax id,
-- whichever both carry) is checked on the few rows this finds.
CREATE INDEX invoices_duplicate_key
    ON invoices (owner, duplicate_key(invoice_id), invoice_total)
    WHERE deleted_at IS NULL AND invoice_id IS NOT NULL AND invoice_total IS NOT NULL;
