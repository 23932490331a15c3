"""Let the Function App's managed identity into PostgreSQL (the post-provision step).

Signs in as the Microsoft Entra administrator (whoever ran `az login` or `azd auth login`,
named by AZURE_DATABASE_ADMIN_NAME), then:

1. creates the identity's role, unless it exists: `pgaadauth_create_principal_with_oid`, which
   binds the role to the identity's object id (names of managed identities need not be unique);
2. creates the extensions the migrations need (the app's own `CREATE EXTENSION IF NOT EXISTS`
   then finds them), and lets the role connect to the database and create its tables.

The app applies the migrations itself when its pool opens (under an advisory lock).
Idempotent: run it again after every provision. Reads the deployment outputs from the
environment (azd provides them; by hand, export them from `az deployment group show`).
"""

from __future__ import annotations

import os
import sys

import psycopg
from azure.identity import DefaultAzureCredential
from psycopg import sql

# shared/secrets.py: PostgreSQL accepts Entra access tokens for this resource as passwords.
POSTGRES_ENTRA_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"
EXTENSIONS = ("vector", "pg_trgm")


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        sys.exit(f"{name} is not set (run through azd, or export the deployment's outputs)")
    return value


def main() -> None:
    host = _required("AZURE_POSTGRES_HOST")
    database = _required("AZURE_POSTGRES_DATABASE")
    admin = _required("AZURE_DATABASE_ADMIN_NAME")
    role = _required("AZURE_APP_IDENTITY_NAME")
    object_id = _required("AZURE_APP_IDENTITY_PRINCIPAL_ID")
    token = DefaultAzureCredential().get_token(POSTGRES_ENTRA_SCOPE).token

    def connect(dbname: str) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=host,
            dbname=dbname,
            user=admin,
            password=token,
            sslmode="require",
            autocommit=True,
            connect_timeout=30,
        )

    # Entra principals are created from the `postgres` database.
    with connect("postgres") as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if exists is None:
            # Arguments: role name, object id, principal type, is admin, is MFA.
            conn.execute(
                "SELECT pgaadauth_create_principal_with_oid(%s, %s, 'service', false, false)",
                (role, object_id),
            )
            print(f"created the role {role}")
    with connect(database) as conn:
        for extension in EXTENSIONS:
            conn.execute(
                sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(extension))
            )
        conn.execute(
            sql.SQL("GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(role)
            )
        )
        conn.execute(
            sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(role))
        )
    print(f"{role} may use the database {database} on {host}")


if __name__ == "__main__":
    main()
