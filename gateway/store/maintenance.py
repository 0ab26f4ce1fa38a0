"""``consent-gateway db upgrade``, ``records verify`` and ``records purge``: the privacy officer's tools.

They read ``database_url`` and ``retention_days`` from the same settings as
the gateway (TOML file, ``GATEWAY_*`` environment). They sign nothing, so
they do not need the secret key.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from gateway.settings import Settings
from gateway.store import ConsentStore, open_store
from gateway.store.chain import ChainReport, TamperedError
from gateway.store.retention import cutoff_for

# Exit codes: 0 fine, 1 the records do not verify (or a purge refused because of that), 2 configuration.
TAMPERED = 1


def load_settings(arguments: argparse.Namespace) -> Settings:
    overrides = {"database_url": arguments.database_url} if arguments.database_url else {}
    return Settings.load(arguments.config, defaults={"demo": True}, **overrides)


def run_records_command(arguments: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    settings = load_settings(arguments)
    store = open_store(settings.database_url)
    if arguments.command == "db":
        return asyncio.run(upgrade(store, out))
    if arguments.records_command == "verify":
        return asyncio.run(with_open(store, verify, out))
    days = arguments.days if arguments.days is not None else settings.retention_days
    if days < 1:
        print("consent-gateway: --days must be 1 or more", file=sys.stderr)
        return 2
    return asyncio.run(with_open(store, lambda opened, out: purge(opened, days, out), out))


async def with_open(store: ConsentStore, action, out: TextIO) -> int:
    await store.open()
    try:
        return await action(store, out)
    finally:
        await store.close()


async def upgrade(store: ConsentStore, out: TextIO) -> int:
    before, after = await store.upgrade()
    if before == after:
        print(f"schema is up to date (version {after})", file=out)
    else:
        print(f"schema upgraded from version {before} to {after}", file=out)
    return 0


async def verify(store: ConsentStore, out: TextIO) -> int:
    report = await store.verify()
    print_report(report, out)
    return 0 if report.ok else TAMPERED


def print_report(report: ChainReport, out: TextIO) -> None:
    start = f"checkpoint at seq {report.start_seq}" if report.start_seq else "the first record"
    print(
        f"checked {report.checked:,} records from {start}; {report.erased:,} erased on request; "
        f"head: seq {report.head_seq}, chain {report.head.hex()}",
        file=out,
    )
    for problem in report.problems:
        print(f"TAMPERED {problem}", file=out)
    print(
        "OK: every record matches its digest and the chain"
        if report.ok
        else f"FAILED: {len(report.problems)} problem(s)",
        file=out,
    )


async def purge(store: ConsentStore, days: int, out: TextIO) -> int:
    cutoff = cutoff_for(days)
    try:
        report = await store.purge(cutoff)
    except TamperedError as error:
        print(f"purge refused: {error}", file=out)
        return TAMPERED
    if report.skipped:
        print("another gateway process is purging right now; nothing done", file=out)
    elif report.deleted:
        print(
            f"purged {report.deleted:,} records from before {cutoff.date()} into day counts; "
            f"the chain now starts after seq {report.through_seq}",
            file=out,
        )
    else:
        print(f"nothing to purge: no records from before {cutoff.date()}", file=out)
    return 0
