"""The command line, one parser for every front end:

    python -m bot [run] [--config FILE]            run the bot (polling or webhook)
    python -m bot check-config [--config FILE]     validate the configuration and stop
    python -m bot demo [--speed X]                 a scripted cross-border incident, no token
    python -m bot roster import FILE [--replace] | export [FILE]
    python -m bot sites import FILE [--replace] | export [FILE]
    python -m bot report export REF [--html] [--language L] [FILE]

The settings are read once per invocation. The database commands share one flow: open the
database named by the configuration, read a CSV file (a rejected file changes nothing and every
problem is printed with its line and column), import or export, close."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot import app, demo
from bot.core import logs
from bot.core.config import TELEGRAM_API, TOKEN_ENV, ConfigError, Settings, load_settings
from bot.core.db import Database
from bot.geo import sites
from bot.render.report import render_report
from bot.reports import report as reports
from bot.resources import roster_csv


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Passerelle: one Telegram place for French and Belgian emergency services.",
    )
    parser.add_argument(
        "--config", type=Path, default=None, help="the TOML configuration (default: config.toml)"
    )
    parser.add_argument("--log-level", default="INFO")
    commands = parser.add_subparsers(dest="command")

    def command(
        name: str, text: str, into: argparse._SubParsersAction[argparse.ArgumentParser] = commands
    ) -> argparse.ArgumentParser:
        sub = into.add_parser(name, help=text)
        # --config may also follow the sub-command: python -m bot check-config --config x.toml
        sub.add_argument("--config", type=Path, default=argparse.SUPPRESS)
        return sub

    command("run", "run the bot (the default)")
    command("check-config", "validate the configuration and stop")
    show = commands.add_parser("demo", help="a scripted cross-border incident; no token needed")
    show.add_argument(
        "--speed", type=float, default=1.0, help="pause multiplier between scripted steps (0: none)"
    )
    for name, what, columns in (
        ("roster", "the resource roster", "README, 'The roster'"),
        ("sites", "the register of at-risk sites", "README, 'At-risk sites'"),
    ):
        group = commands.add_parser(name, help=f"import or export {what} (CSV)")
        verbs = group.add_subparsers(dest="verb", required=True)
        load = command("import", f"add or update {what} from a CSV file (all or nothing)", verbs)
        load.add_argument("file", type=Path, help=f"the CSV file (format: {columns})")
        load.add_argument(
            "--replace",
            action="store_true",
            help="also remove what is not in the file (units in use are kept)",
        )
        dump = command("export", f"write {what} as CSV", verbs)
        dump.add_argument("file", type=Path, nargs="?", help="where to write (default: stdout)")
    report = commands.add_parser("report", help="the after-action report of an incident")
    verbs = report.add_subparsers(dest="verb", required=True)
    export = command("export", "as JSON (or HTML) for other systems", verbs)
    export.add_argument("ref", help="the incident: 12 or #12")
    export.add_argument("file", type=Path, nargs="?", help="where to write (default: stdout)")
    export.add_argument("--html", action="store_true", help="the HTML report instead of JSON")
    export.add_argument(
        "--language", default=None, help="fr, nl or en for --html (default: [i18n] language)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    if command == "demo":
        logs.setup("WARNING")
        return demo.run_demo(speed=args.speed)
    try:
        # without --config, a missing config.toml is fine: a token in the environment is enough,
        # and the database commands work on the default database
        path = args.config or Path("config.toml")
        settings = load_settings(
            path, require_token=command in ("run", "check-config"), missing_ok=args.config is None
        )
    except ConfigError as error:
        for line in error.problems:
            print(line, file=sys.stderr)
        return 2
    if command == "check-config":
        print(f"{path}: OK ({len(settings.chats)} chats, {len(settings.people)} people)")
        return 0
    if command == "run":
        logs.setup(args.log_level, secrets=[settings.token])
        try:
            app.run(settings)
        except app.TokenRejected:
            print(_token_rejected(settings, path), file=sys.stderr)
            return 2
        return 0
    work: Callable[[Database], Awaitable[int]]
    if command == "report":
        work = _report_export(args, settings)
    elif args.verb == "import":
        work = _csv_import(args, settings)
    else:
        work = _csv_export(args, settings)
    return asyncio.run(_with_database(settings, work))


def _token_rejected(settings: Settings, path: Path) -> str:
    """One line: what happened and what to check, never the token itself."""
    source = (
        f"the {TOKEN_ENV} environment variable"
        if os.environ.get(TOKEN_ENV)
        else f"[telegram] token in {path}"
    )
    line = f"The Bot API rejected the bot token: check {source} (the token @BotFather gave you)"
    if settings.telegram.base_url != TELEGRAM_API:
        line += " and [telegram] base_url"
    return line


async def _with_database(settings: Settings, work: Callable[[Database], Awaitable[int]]) -> int:
    db = Database(settings.storage.path)
    await db.open()
    try:
        return await work(db)
    finally:
        await db.close()


def _csv_import(
    args: argparse.Namespace, settings: Settings
) -> Callable[[Database], Awaitable[int]]:
    async def run(db: Database) -> int:
        try:
            content = args.file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"{args.file}: cannot be read ({exc})", file=sys.stderr)
            return 2
        try:
            if args.command == "roster":
                roster = await roster_csv.import_roster(
                    db, content, source=str(args.file), replace=args.replace
                )
                added, updated, removed = roster.added, roster.updated, roster.removed
                kept, what = roster.kept_committed, "units"
            else:
                register = await sites.import_sites(
                    db,
                    content,
                    source=str(args.file),
                    default_radius_km=settings.sites.default_radius_km,
                    replace=args.replace,
                )
                added, updated, removed = register.added, register.updated, register.removed
                kept, what = [], "sites"
        except (roster_csv.RosterFileError, sites.SitesFileError) as error:
            for line in error.problems:
                print(line, file=sys.stderr)
            print(f"{args.file}: rejected, nothing was imported", file=sys.stderr)
            return 1
        print(
            f"{args.file}: {added} {what} added, {updated} updated, {removed} removed"
            f" ({settings.storage.path})"
        )
        if kept:
            print("kept (committed or in a request's history): " + ", ".join(kept))
        return 0

    return run


def _csv_export(
    args: argparse.Namespace, settings: Settings
) -> Callable[[Database], Awaitable[int]]:
    async def run(db: Database) -> int:
        if args.command == "roster":
            text, what = await roster_csv.export_roster(db), "units"
        else:
            text, what = await sites.export_sites(db), "sites"
        _write(text, args.file, f"{text.count(chr(10)) - 1} {what} written")
        return 0

    return run


def _report_export(
    args: argparse.Namespace, settings: Settings
) -> Callable[[Database], Awaitable[int]]:
    async def run(db: Database) -> int:
        raw = str(args.ref).lstrip("#")
        if not raw.isdigit() or len(raw) > 9:
            print(f"{args.ref}: not an incident reference (12 or #12)", file=sys.stderr)
            return 2
        found = await reports.collect(db, int(raw))
        if found is None:
            print(f"#{raw}: no such incident in {settings.storage.path}", file=sys.stderr)
            return 1
        if args.html:
            language = args.language or settings.i18n.default_language
            text = render_report(found, (language,), settings.i18n.timezone)
        else:
            text = reports.to_json(found) + "\n"
        _write(text, args.file, f"report of #{raw} written")
        return 0

    return run


def _write(text: str, file: Path | None, what: str) -> None:
    if file is None:
        sys.stdout.write(text)
    else:
        file.write_text(text, encoding="utf-8")
        print(f"{file}: {what}")
