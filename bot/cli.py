"""The command line, one parser for every front end:

    python -m bot [run] [--config FILE]            run the bot (polling or webhook)
    python -m bot check-config [--config FILE]     validate the configuration and the database
    python -m bot health [--config FILE]           the instances on the database, what each leads
    python -m bot migrate --from-sqlite FILE        copy a SQLite database into PostgreSQL
    python -m bot demo [--speed X]                 a scripted cross-border incident, no token
    python -m bot roster import FILE [--replace] | export [FILE]
    python -m bot sites import FILE [--replace] | export [FILE]
    python -m bot have import FILE | export [FILE]   hospitals' availability (EDXL-HAVE 1.0)
    python -m bot report export REF [FILE] [--html] [--language fr|nl|en]
    python -m bot report export REF --with-files DIR [--language fr|nl|en]
    python -m bot backup [DIR] [--keep N]          a verified copy of the database, bot running
    python -m bot restore FILE                     put a backup back (the bot stopped)

The settings are read once per invocation. The database commands share one flow: open the
database named by the configuration, read a CSV file (UTF-8; a file a spreadsheet saved as
Windows-1252 is read as such, with a warning; a rejected file changes nothing and every problem
is printed with its line and column), import or export, close. What it prints is for admins:
English."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot import app, demo
from bot.cluster import status
from bot.cluster.members import InstanceNameTaken
from bot.core import backup, inuse, logs
from bot.core.config import (
    TELEGRAM_API,
    TOKEN_ENV,
    ConfigError,
    Settings,
    read_config,
    roster_warnings,
)
from bot.core.db import (
    Database,
    PostgresDatabase,
    SqliteDatabase,
    StorageProblem,
    database_for,
    tools,
)
from bot.core.models import LANGUAGES
from bot.evidence import service as evidence
from bot.geo import sites
from bot.render.report import render_report
from bot.reports import archive
from bot.reports import report as reports
from bot.resources import have, roster_csv, units


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
    command("check-config", "validate the configuration and the database, and stop")
    command("health", "the instances sharing the database and what each leads (JSON)")
    migrate = command("migrate", "copy a SQLite database into the PostgreSQL one of [storage] url")
    migrate.add_argument(
        "--from-sqlite",
        type=Path,
        required=True,
        metavar="FILE",
        help="the SQLite file (at this version's schema); the target must be empty",
    )
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
    copying = command("backup", "a verified copy of the SQLite database (while the bot runs)")
    copying.add_argument(
        "dir",
        type=Path,
        nargs="?",
        help="where to write it (default: [storage] backup_dir, passerelle-backups/)",
    )
    copying.add_argument(
        "--keep", type=int, default=None, metavar="N", help="then keep only the newest N there"
    )
    putting = command("restore", "put a backup in place of the database (the bot stopped)")
    putting.add_argument("file", type=Path, help="the backup (a file `backup` wrote)")
    hospitals = commands.add_parser(
        "have", help="hospitals' availability as OASIS EDXL-HAVE 1.0 (README, 'EDXL-HAVE')"
    )
    verbs = hospitals.add_subparsers(dest="verb", required=True)
    load = command(
        "import", "update the roster's beds from a HAVE document (all or nothing)", verbs
    )
    load.add_argument("file", type=Path, help="the HAVE XML document")
    dump = command("export", "write the roster's hospital beds as a HAVE document", verbs)
    dump.add_argument("file", type=Path, nargs="?", help="where to write (default: stdout)")
    report = commands.add_parser("report", help="the after-action report of an incident")
    verbs = report.add_subparsers(dest="verb", required=True)
    export = command("export", "as JSON (or HTML) for other systems", verbs)
    export.add_argument("ref", help="the incident: 12 or #12")
    export.add_argument("file", type=Path, nargs="?", help="where to write (default: stdout)")
    export.add_argument("--html", action="store_true", help="the HTML report instead of JSON")
    export.add_argument(
        "--with-files",
        type=Path,
        default=None,
        metavar="DIR",
        help="write the HTML and JSON reports and the kept originals of the timeline's files "
        "into DIR (new or empty), with SHA256SUMS",
    )
    export.add_argument(
        "--language",
        choices=LANGUAGES,
        default=None,
        help="the language of the HTML report (default: [i18n] default_language)",
    )
    return parser


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    """The parsed command line; options may come anywhere, also between the incident and the
    file of `report export` (argparse takes the positionals that are together at once, so
    `report export 1 --html out.html` would leave `out.html` over)."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if (
        args.command == "report"
        and args.file is None
        and len(extra) == 1
        and not extra[0].startswith("-")
    ):
        args.file, extra = Path(extra[0]), []
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "report" and args.with_files is not None:
        if args.file is not None or args.html:
            parser.error("--with-files writes both reports into DIR: no FILE, no --html")
    elif args.command == "report" and args.language is not None and not args.html:
        parser.error("--language is for the HTML report: add --html")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    command = args.command or "run"
    if command == "demo":
        logs.setup("WARNING")
        return demo.run_demo(speed=args.speed)
    try:
        # without --config, a missing config.toml is fine: a token in the environment is enough,
        # and the database commands work on the default database
        path = args.config or Path("config.toml")
        loaded = read_config(
            path, require_token=command in ("run", "check-config"), missing_ok=args.config is None
        )
    except ConfigError as error:
        for line in error.problems:
            print(line, file=sys.stderr)
        return 2
    settings, warnings = loaded.settings, loaded.warnings
    inspection: tools.Inspection | None = None
    if command == "check-config":
        try:
            inspection = asyncio.run(tools.inspect(settings.storage))
        except StorageProblem as problem:
            print(f"storage: {problem}", file=sys.stderr)
            return 2
        warnings = [*warnings, *_roster_warnings(settings, inspection)]
    if command in ("run", "check-config"):
        for line in warnings:
            print(f"warning: {line}", file=sys.stderr)
    if inspection is not None:
        if inspection.ahead:
            print(f"storage: {inspection.describe()}", file=sys.stderr)
            return 2
        print(f"storage: {inspection.describe()}")
    if command == "migrate":
        return asyncio.run(_migrate_from_sqlite(args.from_sqlite, settings))
    if command == "check-config":
        noted = f", {len(warnings)} warning{'s' if len(warnings) != 1 else ''}" if warnings else ""
        print(f"{path}: OK ({len(settings.chats)} chats, {len(settings.people)} people{noted})")
        return 0
    if command == "run":
        logs.setup(args.log_level, secrets=[settings.token], instance=settings.instance.name)
        try:
            app.run(settings)
        except app.TokenRejected:
            print(_token_rejected(settings, path), file=sys.stderr)
            return 2
        except StorageProblem as problem:
            print(f"storage: {problem}", file=sys.stderr)
            return 2
        except InstanceNameTaken as taken:
            print(taken, file=sys.stderr)
            return 2
        return 0
    if command in ("backup", "restore") and settings.storage.url is not None:
        print(
            f"{command}: the database is on PostgreSQL ([storage] url): use pg_dump and"
            " pg_restore, or base backups (README, Backups)",
            file=sys.stderr,
        )
        return 2
    if command == "backup":
        return _backup(args, settings)
    if command == "restore":
        return _restore(args, settings)
    work: Callable[[Database], Awaitable[int]]
    if command == "health":
        work = _health(settings)
    elif command == "report":
        work = _report_export(args, settings)
    elif command == "have":
        work = _have_import(args) if args.verb == "import" else _have_export(args)
    elif args.verb == "import":
        work = _csv_import(args, settings)
    else:
        work = _csv_export(args, settings)
    try:
        return asyncio.run(_with_database(settings, work))
    except StorageProblem as problem:
        print(f"storage: {problem}", file=sys.stderr)
        return 2


def _roster_warnings(settings: Settings, inspection: tools.Inspection) -> list[str]:
    """The roster's agencies that no agency chat serves, read from the database if there is
    one yet (read-only: checking the configuration changes nothing)."""
    where = inspection.where
    return [f"{where}: {line}" for line in roster_warnings(settings, inspection.agencies)]


async def _migrate_from_sqlite(source: Path, settings: Settings) -> int:
    if not settings.storage.url:
        print(
            "[storage] url is not set: migrate --from-sqlite copies into the PostgreSQL"
            " database it names",
            file=sys.stderr,
        )
        return 2
    target = PostgresDatabase(settings.storage.url)
    try:
        copied = await tools.copy_from_sqlite(source, target)
    except StorageProblem as problem:
        print(f"{problem}; nothing was copied", file=sys.stderr)
        return 1
    print(
        f"{source} -> {target.name}: {_count(copied.rows, 'row')} copied"
        f" ({_count(copied.tables, 'table')})"
    )
    return 0


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
    if settings.storage.url is not None:
        # PostgreSQL: no file to swap under the command (backups: the server's own tools)
        db = database_for(settings.storage)
        await db.open()
        try:
            return await work(db)
        finally:
            await db.close()
    try:
        # a restore does not swap the file under an import (bot.core.inuse)
        holding = inuse.share_now(Path(settings.storage.path), "a command")
    except inuse.DatabaseInUse as error:
        print(error, file=sys.stderr)
        return 3
    with holding:
        db = SqliteDatabase(settings.storage.path)
        await db.open()
        try:
            return await work(db)
        finally:
            await db.close()


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0: written and verified; 1: not taken (the reason on one line)."""
    if args.keep is not None and args.keep < 1:
        print(f"--keep {args.keep}: keep at least 1", file=sys.stderr)
        return 2
    database = Path(settings.storage.path)
    folder = args.dir if args.dir is not None else settings.storage.backup_folder
    try:
        taken = backup.take(database, folder)
        pruned = backup.prune(folder, database, args.keep) if args.keep is not None else []
    except (backup.BackupError, OSError) as error:
        print(error, file=sys.stderr)
        return 1
    print(
        f"{taken.path}: backup of {database} verified (integrity ok), schema version"
        f" {taken.schema_version}, {_size(taken.size)}"
        + (f"; {_count(len(pruned), 'older file')} removed" if pruned else "")
    )
    return 0


def _restore(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0: restored; 1: the file is refused; 3: the database is in use (stop the bot)."""
    database = Path(settings.storage.path)
    try:
        done = backup.restore(args.file, database)
    except backup.RestoreRefused as error:
        print(f"{error}; nothing was restored", file=sys.stderr)
        return 1
    except inuse.DatabaseInUse as error:
        print(f"{error}; nothing was restored", file=sys.stderr)
        return 3
    latest = backup.latest_schema_version()
    later = f" (migrated to {latest} at the next start)" if done.schema_version < latest else ""
    print(
        f"{database}: restored from {args.file}, schema version {done.schema_version}{later},"
        f" {_count(done.incidents, 'incident')} ({done.open_incidents} open)"
    )
    if done.aside is not None:
        print(f"the database it replaces is kept as {done.aside}")
    if not inuse.LOCKS:
        print("warning: this system has no file locks: make sure the bot was stopped")
    return 0


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def _health(settings: Settings) -> Callable[[Database], Awaitable[int]]:
    async def run(db: Database) -> int:
        # "this instance": the one the configuration names, if it names one
        named = "name" in settings.instance.model_fields_set
        await db.measure_clock()  # the database's time: whose heartbeat is recent
        found = await status.status(db, settings.instance.name if named else None)
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0 if found["alive"] else 1

    return run


def _csv_import(
    args: argparse.Namespace, settings: Settings
) -> Callable[[Database], Awaitable[int]]:
    async def run(db: Database) -> int:
        content = _read_csv(args.file)
        if content is None:
            return 2
        try:
            if args.command == "roster":
                roster = await roster_csv.import_roster(
                    db, content, source=str(args.file), replace=args.replace
                )
                added, updated, removed = roster.added, roster.updated, roster.removed
                unchanged, kept, what = roster.unchanged, roster.kept_committed, "unit"
            else:
                register = await sites.import_sites(
                    db,
                    content,
                    source=str(args.file),
                    default_radius_km=settings.sites.default_radius_km,
                    replace=args.replace,
                )
                added, updated, removed = register.added, register.updated, register.removed
                unchanged, kept, what = register.unchanged, [], "site"
        except (roster_csv.RosterFileError, sites.SitesFileError) as error:
            for line in error.problems:
                print(line, file=sys.stderr)
            print(f"{args.file}: rejected, nothing was imported", file=sys.stderr)
            return 1
        print(
            f"{args.file}: {_count(added, what)} added, {updated} updated,"
            f" {unchanged} unchanged, {removed} removed ({db.name})"
        )
        if kept:
            print("kept (committed or in a request's history): " + ", ".join(kept))
        if args.command == "roster":
            for line in await _agencies_without_chat(db, settings):
                print(line, file=sys.stderr)
        return 0

    return run


def _csv_export(
    args: argparse.Namespace, settings: Settings
) -> Callable[[Database], Awaitable[int]]:
    async def run(db: Database) -> int:
        if args.command == "roster":
            text, what = await roster_csv.export_roster(db), "unit"
        else:
            text, what = await sites.export_sites(db), "site"
        _write(text, args.file, f"{_count(text.count(chr(10)) - 1, what)} written")
        return 0

    return run


def _have_import(args: argparse.Namespace) -> Callable[[Database], Awaitable[int]]:
    async def run(db: Database) -> int:
        try:
            document = args.file.read_bytes()
        except OSError as exc:
            print(f"{args.file}: cannot be read ({exc.strerror or exc})", file=sys.stderr)
            return 2
        try:
            async with db.unit() as work:
                result = await have.apply(work, document, by=f"HAVE {args.file.name}")
        except have.HaveError as error:
            print(f"{args.file}: {error}", file=sys.stderr)
            print(f"{args.file}: rejected, nothing was changed", file=sys.stderr)
            return 1
        for code, (free, total) in sorted(result.updated.items()):
            print(f"{code}: {free} / {total} free")
        for line in result.older:
            print(f"{line}: a newer report was applied already; left as it is")
        for line in result.ignored:
            print(f"warning: {line}: no roster type for this bed type (ignored)", file=sys.stderr)
        n = len(result.updated)
        print(f"{args.file}: {n} {'facility' if n == 1 else 'facilities'} updated")
        return 0

    return run


def _have_export(args: argparse.Namespace) -> Callable[[Database], Awaitable[int]]:
    async def run(db: Database) -> int:
        document = await have.export(db)
        hospitals = document.count(b"<Hospital>")
        if args.file is None:
            sys.stdout.write(document.decode("utf-8"))
        else:
            args.file.write_bytes(document)
            print(f"{args.file}: {_count(hospitals, 'hospital')} written")
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
            print(f"#{raw}: no such incident in {db.name}", file=sys.stderr)
            return 1
        language = args.language or settings.i18n.default_language
        if args.with_files is not None or args.html:
            found = await reports.with_thumbnails(found, evidence.folder(settings))
        if args.with_files is not None:
            written = archive.export(
                found,
                kept_in=evidence.folder(settings),
                folder=args.with_files,
                languages=(language,),
                timezone=settings.i18n.timezone,
            )
            for problem in written.problems:
                print(problem, file=sys.stderr)
            if written.written:
                print(
                    f"{args.with_files}: report of #{raw} and "
                    f"{_count(written.originals, 'original')} written, with SHA256SUMS"
                )
            return 1 if written.problems else 0
        if args.html:
            text = render_report(found, (language,), settings.i18n.timezone)
        else:
            text = reports.to_json(found) + "\n"
        _write(text, args.file, f"report of #{raw} written")
        return 0

    return run


def _count(number: int, noun: str) -> str:
    """'1 unit', '2 units', '0 units'."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _read_csv(file: Path) -> str | None:
    """The file's text: UTF-8 (with or without a byte order mark), else Windows-1252 (what
    Excel in French or Dutch writes for "CSV"), said on stderr with the first line concerned;
    None (the reason printed) when it cannot be read or is neither."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        print(f"{file}: cannot be read ({exc.strerror or exc})", file=sys.stderr)
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
    fix = 'save it from the spreadsheet as "CSV UTF-8" and import that file'
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        print(f"{file}: UTF-16 text, not a UTF-8 CSV file: {fix}", file=sys.stderr)
        return None
    try:
        content = data.decode("cp1252")
    except UnicodeDecodeError:
        print(f"{file}:{line}: neither UTF-8 nor Windows-1252 text: {fix}", file=sys.stderr)
        return None
    print(
        f'{file}:{line}: warning: not UTF-8; read as Windows-1252 (Excel\'s "CSV" in French'
        f" or Dutch): check the accents, or {fix}",
        file=sys.stderr,
    )
    return content


async def _agencies_without_chat(db: Database, settings: Settings) -> list[str]:
    """A warning for each agency of the roster that no agency chat of the configuration
    names: its units cannot be offered when a request comes."""
    counts = Counter(row["agency"] for row in await units.all_units(db))
    return [f"warning: {line}" for line in roster_warnings(settings, counts)]


def _write(text: str, file: Path | None, what: str) -> None:
    if file is None:
        sys.stdout.write(text)
    else:
        file.write_text(text, encoding="utf-8")
        print(f"{file}: {what}")
