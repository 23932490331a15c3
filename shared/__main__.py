"""Command line: `python -m shared extract [--extractor rules|llm|auto] FILE... [--json]`,
`token`, `migrate` and `reembed`.

Prints one JSON object per document (a ZIP gives one per member): the invoice
fields flat at the top level plus `line_items`, `confidence`, `warnings`,
`extractor`, `pages` and `document`. Exit codes: 0 all documents extracted,
1 some documents failed (each reason on stderr), 2 an input was rejected whole.

`python -m shared token --user alice --roles processor,viewer` prints a bearer token
from the local dev issuer (local use only; see shared/auth/devissuer.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.auth import devissuer
from shared.auth.principal import Role
from shared.config import EXTRACTORS, DatabaseSettings, get_settings
from shared.errors import DocumentRejected, InvoiceError

if TYPE_CHECKING:
    from shared.pipeline import DocumentResult


def _output(result: DocumentResult, source: Path) -> dict[str, Any]:
    assert result.invoice is not None
    data = result.invoice.to_output()
    data["document"] = result.name if result.name != source.name else str(source)
    return data


def _extract(paths: Sequence[Path], compact: bool, mode: str | None = None) -> int:
    # Imported here: PyMuPDF takes a second to load, and the other commands never need it.
    from shared.pipeline import make_extractor, process_bytes

    settings = get_settings()
    # No store: the command line has no owner, so no result cache, budget or vendor memory.
    extractor = make_extractor(settings, mode)
    exit_code = 0
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
            exit_code = 2
            continue
        try:
            results = process_bytes(path.name, data, settings, extractor=extractor)
        except DocumentRejected as exc:
            print(f"{path}: rejected ({exc.code}): {exc.message}", file=sys.stderr)
            exit_code = 2
            continue
        for result in results:
            if result.invoice is None:
                print(
                    f"{path}: {result.name}: failed ({result.error_code}): {result.error_message}",
                    file=sys.stderr,
                )
                exit_code = max(exit_code, 1)
                continue
            output = _output(result, path)
            if compact:
                print(json.dumps(output, ensure_ascii=False, separators=(",", ":")))
            else:
                print(json.dumps(output, ensure_ascii=False, indent=2))
    return exit_code


def _token(user: str, roles: str, minutes: int, key_dir: Path | None) -> int:
    names = [name.strip() for name in roles.split(",") if name.strip()]
    known = {role.value for role in Role}
    unknown = [name for name in names if name not in known]
    if unknown:
        print(f"error: unknown roles {unknown}; choose from {sorted(known)}", file=sys.stderr)
        return 2
    if minutes <= 0:
        print("error: --minutes must be positive", file=sys.stderr)
        return 2
    if key_dir is None:
        key_dir = devissuer.configured_key_dir(get_settings().auth) or devissuer.DEFAULT_KEY_DIR
    print(devissuer.mint_token(key_dir, user, names, minutes=minutes))
    return 0


_DEV_ISSUER_HELP = """\
Print a bearer token signed by the local dev issuer. For local use only: the API
accepts these tokens only where AUTH_ISSUERS lists {"kind": "dev"}, which no
deployed environment should. The key pair is created in the key directory on
first use."""


def _connect_args(database: DatabaseSettings) -> dict[str, Any]:
    """The URL, and with DATABASE_AUTH=entra an Entra access token as the password (what the
    app's pool does for each connection)."""
    from shared.secrets import database_connect_kwargs
    from shared.storage.database import database_url

    extra = database_connect_kwargs(database)
    return {"conninfo": database_url(database), **(extra() if extra else {})}


def _migrate() -> int:
    import psycopg

    from shared.storage.migrate import migrate

    with psycopg.connect(**_connect_args(get_settings().database), autocommit=True) as conn:
        applied = migrate(conn)
    print("applied: " + ", ".join(applied) if applied else "up to date")
    return 0


def _reembed() -> int:
    import psycopg

    from shared.embeddings import make_embedder
    from shared.storage.migrate import migrate
    from shared.storage.vectors import reembed

    settings = get_settings()
    embedder = make_embedder(settings)
    with psycopg.connect(**_connect_args(settings.database), autocommit=True) as conn:
        migrate(conn)
        result = reembed(conn, embedder)
    if result.resized:
        print(f"embeddings column resized from {result.resized[0]} to {result.resized[1]} "
              "dimensions; every earlier vector was dropped")  # fmt: skip
    print(f"embedded {result.embedded} invoices with {embedder.model}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    extract = commands.add_parser("extract", help="extract invoices from files and print JSON")
    extract.add_argument("files", nargs="+", type=Path, metavar="FILE")
    extract.add_argument(
        "--json", action="store_true", help="one compact JSON object per line (JSON Lines)"
    )
    extract.add_argument(
        "--extractor",
        choices=EXTRACTORS,
        default=None,
        help="rules (offline), llm, or auto (llm when configured); default: EXTRACTOR",
    )
    token = commands.add_parser(
        "token",
        help="print a dev-issuer bearer token (local use only)",
        description=_DEV_ISSUER_HELP,
    )
    token.add_argument("--user", required=True, help="the token's subject (sub)")
    token.add_argument(
        "--roles", default="", help="comma-separated: viewer, processor, admin (default: none)"
    )
    token.add_argument("--minutes", type=int, default=60, help="lifetime (default: 60)")
    token.add_argument(
        "--key-dir",
        type=Path,
        default=None,
        help="dev issuer key directory (default: the dev issuer's key_dir in AUTH_ISSUERS, "
        f"else {devissuer.DEFAULT_KEY_DIR})",
    )
    commands.add_parser(
        "migrate",
        help="apply pending database migrations (DATABASE_URL, else the embedded cluster)",
    )
    commands.add_parser(
        "reembed",
        help="embed every invoice without a vector of the configured embeddings model "
        "(EMBEDDINGS_MODEL, EMBEDDINGS_DIMENSIONS); a new dimension replaces every vector",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "extract":
            return _extract(args.files, compact=args.json, mode=args.extractor)
        if args.command == "token":
            return _token(args.user, args.roles, args.minutes, args.key_dir)
        if args.command == "migrate":
            return _migrate()
        if args.command == "reembed":
            return _reembed()
    except InvoiceError as exc:  # configuration errors and the like: one line, no traceback
        print(f"error ({exc.code}): {exc.message}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours, and no traceback.
        sys.stderr.close()
        sys.exit(1)
