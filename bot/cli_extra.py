"""Command-line parts for the register of sites and the after-action report:

    python -m bot sites import FILE.csv [--replace] | export [FILE]
    python -m bot report export REF [--html] [FILE]

Each reads the database named by --config (default config.toml)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sites = commands.add_parser("sites", help="import or export the register of at-risk sites")
    sites_commands = sites.add_subparsers(dest="sites_command", required=True)
    load = sites_commands.add_parser(
        "import", help="add or update the sites of a CSV file (all or nothing)"
    )
    load.add_argument("file", type=Path, help="the CSV file (format: README, 'At-risk sites')")
    load.add_argument(
        "--replace", action="store_true", help="also remove sites that are not in the file"
    )
    load.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    dump = sites_commands.add_parser("export", help="write the register as CSV")
    dump.add_argument("file", type=Path, nargs="?", help="where to write (default: stdout)")
    dump.add_argument("--config", type=Path, default=argparse.SUPPRESS)

    report = commands.add_parser("report", help="the after-action report of an incident")
    report_commands = report.add_subparsers(dest="report_command", required=True)
    export = report_commands.add_parser("export", help="as JSON (or HTML) for other systems")
    export.add_argument("ref", help="the incident: 12 or #12")
    export.add_argument("file", type=Path, nargs="?", help="where to write (default: stdout)")
    export.add_argument("--html", action="store_true", help="the HTML report instead of JSON")
    export.add_argument(
        "--language", default=None, help="fr, nl or en for --html (default: [i18n] language)"
    )
    export.add_argument("--config", type=Path, default=argparse.SUPPRESS)


def _settings(args: argparse.Namespace) -> Settings | None:
    try:
        path = args.config or Path("config.toml")
        return load_settings(path, require_token=False, missing_ok=args.config is None)
    except ConfigError as error:
        for line in error.problems:
            print(line, file=sys.stderr)
        return None


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings is None:
        return 2
    if args.command == "sites":
        return asyncio.run(_sites(args, settings))
    return asyncio.run(_report(args, settings))


def _write(text: str, file: Path | None, what: str) -> None:
    if file is None:
        sys.stdout.write(text)
    else:
        file.write_text(text, encoding="utf-8")
        print(f"{file}: {what}")


async def _sites(args: argparse.Namespace, settings: Settings) -> int:
    from bot import sites
    from bot.db import Database

    db = Database(settings.storage.path)
    await db.open()
    try:
        if args.sites_command == "import":
            try:
                content = args.file.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                print(f"{args.file}: cannot be read ({exc})", file=sys.stderr)
                return 2
            try:
                report = await sites.import_sites(
                    db,
                    content,
                    source=str(args.file),
                    default_radius_km=settings.sites.default_radius_km,
                    replace=args.replace,
                )
            except sites.SitesFileError as error:
                for line in error.problems:
                    print(line, file=sys.stderr)
                print(f"{args.file}: rejected, nothing was imported", file=sys.stderr)
                return 1
            print(
                f"{args.file}: {report.added} sites added, {report.updated} updated,"
                f" {report.removed} removed ({settings.storage.path})"
            )
            return 0
        text = await sites.export_sites(db)
        _write(text, args.file, f"{text.count(chr(10)) - 1} sites written")
        return 0
    finally:
        await db.close()


async def _report(args: argparse.Namespace, settings: Settings) -> int:
    from bot import reports
    from bot.db import Database
    from bot.render.report import render_report

    raw = str(args.ref).lstrip("#")
    if not raw.isdigit():
        print(f"{args.ref}: not an incident reference (12 or #12)", file=sys.stderr)
        return 2
    db = Database(settings.storage.path)
    await db.open()
    try:
        report = await reports.collect(db, int(raw))
    finally:
        await db.close()
    if report is None:
        print(f"#{raw}: no such incident in {settings.storage.path}", file=sys.stderr)
        return 1
    if args.html:
        language = args.language or settings.i18n.default_language
        text = render_report(report, (language,), settings.i18n.timezone)
    else:
        text = reports.to_json(report) + "\n"
    _write(text, args.file, f"report of #{raw} written")
    return 0
