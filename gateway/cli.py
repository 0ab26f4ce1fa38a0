"""The ``consent-gateway`` command."""

from __future__ import annotations

import argparse
import asyncio
import functools
import getpass
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import uvicorn

from gateway import __version__
from gateway.admin.passwords import ITERATIONS, MIN_ITERATIONS, hash_password
from gateway.demo import demo_app
from gateway.proxy.app import CONFIG_ENVIRONMENT, proxy_app
from gateway.scan.crawl import ScanOptions, scan
from gateway.serving import workers as reuseport_workers
from gateway.serving.limits import ConnectionLimits
from gateway.serving.logs import log_config
from gateway.serving.protocol import GatewayHttpProtocol
from gateway.settings import Settings, SettingsError
from gateway.store.maintenance import run_records_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="consent-gateway", description="Cookie consent and analytics gateway.")
    parser.add_argument("--version", action="version", version=f"consent-gateway {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the bundled demo learning site behind the gateway")
    add_listening_options(demo)

    serve = commands.add_parser("serve", help="run the gateway as a reverse proxy in front of a site")
    serve.add_argument(
        "--upstream", help="the site to protect, e.g. http://127.0.0.1:8000 (default: the upstream setting)"
    )
    serve.add_argument("--config", help="a gateway.toml file (default: none, settings from GATEWAY_* only)")
    add_listening_options(serve)

    scan = commands.add_parser(
        "scan", help="crawl a site and record the third parties and cookies its pages use (the discovery table)"
    )
    scan.add_argument("urls", nargs="+", metavar="URL", help="where to start; links are followed on the same host")
    scan.add_argument("--config", help="a gateway.toml file (the store written to is its database_url; default: none)")
    scan.add_argument("--database-url", help="instead of the database_url setting (default: that setting)")
    scan.add_argument("--pages", type=positive, default=50, help="pages to fetch per site at most (default: 50)")
    scan.add_argument("--timeout", type=float, default=15.0, help="seconds per page before it is skipped (default: 15)")
    scan.add_argument(
        "--site", help="record under this host name (default: each URL's host), e.g. when scanning the upstream"
    )
    scan.add_argument(
        "--static",
        action="store_true",
        help="static HTML only, even when Chromium is there (default: off, Chromium when installed)",
    )
    scan.add_argument("--chromium", type=Path, help="the Chromium to run (default: /usr/bin/chromium)")
    scan.add_argument(
        "--chromium-arg", action="append", default=[], help="one more Chromium switch, repeatable (default: none)"
    )

    db = commands.add_parser("db", help="the consent database").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="apply schema migrations (start-up does this too)")
    records = commands.add_parser("records", help="the consent records").add_subparsers(
        dest="records_command", required=True
    )
    verify = records.add_parser("verify", help="check every record against the tamper-evidence chain")
    purge = records.add_parser("purge", help="turn records older than retention_days into day counts")
    purge.add_argument("--days", type=int, help="days to keep (default: the retention_days setting, 365)")
    for command in (upgrade, verify, purge):
        command.add_argument("--config", help="a gateway.toml file (default: none, settings from GATEWAY_* only)")
        command.add_argument("--database-url", help="the store (default: the database_url setting)")
    admin = commands.add_parser("admin", help="tools for the privacy officer's admin")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    hash_password = admin_commands.add_parser(
        "hash-password", help="print the admin_password_hash for a password (asked for, or one line on stdin)"
    )
    hash_password.add_argument("--iterations", type=int, default=None, help=f"PBKDF2 rounds (default: {ITERATIONS})")
    return parser


def add_listening_options(command: argparse.ArgumentParser) -> None:
    """``--host``, ``--port``, ``--workers`` and ``--access-log``: the same for ``demo`` and ``serve``."""
    command.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)")
    command.add_argument("--port", type=int, default=8080, help="the port to listen on (default: %(default)s)")
    command.add_argument(
        "--workers", type=positive, default=1, help="worker processes, sharing one secret and one store (default: 1)"
    )
    command.add_argument(
        "--access-log",
        action="store_true",
        help="log every request, client addresses cut to /24 or /48 (default: off; costs about a fifth of the"
        " throughput)",
    )


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def run_scan(arguments: argparse.Namespace) -> int:
    """Settings as ``serve`` reads them; a scan needs no secret key, so one stands in when none is set."""
    overrides = {"database_url": arguments.database_url} if arguments.database_url else {}
    settings = Settings.load(arguments.config, defaults={"secret_key": secrets.token_urlsafe(32)}, **overrides)
    options = ScanOptions(
        urls=arguments.urls,
        pages=arguments.pages,
        timeout=arguments.timeout,
        site=arguments.site,
        static=arguments.static,
        chromium=arguments.chromium,
        chromium_args=tuple(arguments.chromium_arg),
    )
    return asyncio.run(scan(settings, options))


def run(app: object, arguments: argparse.Namespace, settings: Settings) -> int:
    """Serve ``app``: an app, or with several workers the "module:factory" each worker builds its app from."""
    # proxy_headers off: forwarding headers are judged by our own trusted_proxies setting.
    options: dict = dict(
        # httptools, a response's head written with its body, read deadlines, connections per address
        http=functools.partial(GatewayHttpProtocol, limits=ConnectionLimits.from_settings(settings)),
        lifespan="on",
        proxy_headers=False,
        server_header=False,
        access_log=arguments.access_log,
        log_config=log_config(),
    )
    workers = getattr(arguments, "workers", 1)
    if isinstance(app, str) and workers > 1 and reuseport_workers.available():
        try:
            return reuseport_workers.serve(app, arguments.host, arguments.port, workers, **options)
        except OSError as error:  # the port is taken or the address is not ours
            where = f"{arguments.host}:{arguments.port}"
            print(f"consent-gateway: cannot listen on {where}: {error.strerror}", file=sys.stderr)
            return 1
    uvicorn.run(
        app,
        factory=isinstance(app, str),
        workers=workers if isinstance(app, str) else None,
        host=arguments.host,
        port=arguments.port,
        **options,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        if arguments.command == "demo":
            source = secret_source(None)
            if arguments.workers > 1:
                # Every worker builds the demo from the environment: one demo secret for all of them.
                os.environ.setdefault("GATEWAY_SECRET_KEY", secrets.token_urlsafe(32))
                built = demo_app()  # settles the settings (and reports a bad one) before any worker starts
                app: object = "gateway.demo:demo_app"
            else:
                app = built = demo_app()
            print(startup_summary(arguments, built.components.settings, source), file=sys.stderr)
            return run(app, arguments, built.components.settings)
        elif arguments.command == "serve":
            app = built = proxy_app(arguments.upstream, arguments.config)  # settles the settings before any worker
            print(
                startup_summary(arguments, built.components.settings, secret_source(arguments.config)), file=sys.stderr
            )
            if arguments.workers > 1:
                # Workers build their own app from the environment.
                os.environ[CONFIG_ENVIRONMENT] = arguments.config or ""
                if arguments.upstream:
                    os.environ["GATEWAY_UPSTREAM"] = arguments.upstream
                app = "gateway.proxy.app:proxy_app_from_environment"
            return run(app, arguments, built.components.settings)
        elif arguments.command == "scan":
            return run_scan(arguments)
        elif arguments.command in ("db", "records"):
            return run_records_command(arguments)
        elif arguments.command == "admin":
            return print_password_hash(arguments.iterations)
    except SettingsError as error:
        print(f"consent-gateway: configuration error: {error}", file=sys.stderr)
        return 2
    return 0


def secret_source(config: str | None) -> str:
    """Where the signing secret comes from, never the secret: the environment wins over the config file,
    and without either only the demo runs, on a secret it makes up."""
    if os.environ.get("GATEWAY_SECRET_KEY"):
        return "GATEWAY_SECRET_KEY"
    if config:
        return f"secret_key in {config}"
    return "made up at start-up (demo): choices are asked again after a restart"


def startup_summary(arguments: argparse.Namespace, settings: Settings, source: str) -> str:
    """The lines ``demo`` and ``serve`` print before the server's own: where it listens, what it protects,
    where choices go, whether the admin is on, and where the secret came from."""
    host = f"[{arguments.host}]" if ":" in arguments.host else arguments.host
    base = f"http://{host}:{arguments.port}"
    if arguments.command == "demo":
        upstream = "the bundled demo learning site, in this process"
    else:
        upstream = settings.upstream or ""
    admin = f"on, {base}{settings.prefix}/admin" if settings.admin_enabled else "off (no admin_user or admin_token)"
    keys = len(settings.secret_key)
    secret = source if keys == 1 else f"{source} ({keys} keys: the first signs, all verify)"
    rows = [
        ("listening", f"{base}/"),
        ("upstream", upstream),
        ("consent store", public_url(settings.database_url)),
        ("admin", admin),
        ("workers", str(arguments.workers)),
        ("secret", secret),
    ]
    lines = [f"consent-gateway {__version__} {arguments.command}"]
    lines += [f"  {name:<14}{value}" for name, value in rows]
    return "\n".join(lines)


def public_url(url: str) -> str:
    """A database URL fit for a log: its password left out, in the user part and as a query parameter."""
    parts = urlsplit(url)
    pairs = [pair for pair in parts.query.split("&") if pair]
    kept = [pair for pair in pairs if pair.split("=", 1)[0].lower() != "password"]
    if parts.password is None and kept == pairs:
        return url  # as given: urlunsplit would turn sqlite:///consent.db into sqlite:/consent.db
    user, _, host = parts.netloc.rpartition("@")
    netloc = f"{user.split(':', 1)[0]}@{host}" if user else host
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(kept), parts.fragment))


def print_password_hash(iterations: int | None) -> int:
    """Ask twice on a terminal; read one line from a pipe (for scripts and compose files)."""
    if iterations is not None and iterations < MIN_ITERATIONS:
        print(f"consent-gateway: --iterations must be at least {MIN_ITERATIONS}", file=sys.stderr)
        return 2
    if sys.stdin.isatty():
        password = getpass.getpass("Admin password: ")
        if getpass.getpass("Again: ") != password:
            print("consent-gateway: the passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 12:
        print("consent-gateway: use a password of at least 12 characters", file=sys.stderr)
        return 1
    print(hash_password(password, iterations or ITERATIONS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
