"""Command line: run the bot, check a configuration, watch the demo, import or export the
resource roster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot import cli_extra, logs
from bot.config import ConfigError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Passerelle: one Telegram place for French and Belgian emergency services.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="the TOML configuration (default: config.toml)",
    )
    parser.add_argument("--log-level", default="INFO")
    commands = parser.add_subparsers(dest="command")
    # --config may also follow the sub-command: python -m bot check-config --config x.toml
    for name, text in (
        ("run", "run the bot (the default)"),
        ("check-config", "validate the configuration and stop"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    roster = commands.add_parser("roster", help="import or export the resource roster (CSV)")
    roster_commands = roster.add_subparsers(dest="roster_command", required=True)
    load = roster_commands.add_parser(
        "import", help="add or update the units of a CSV file (all or nothing)"
    )
    load.add_argument("file", type=Path, help="the CSV file (format: README, 'The roster')")
    load.add_argument(
        "--replace",
        action="store_true",
        help="also remove units that are not in the file (committed ones are kept)",
    )
    load.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    dump = roster_commands.add_parser("export", help="write the roster as CSV")
    dump.add_argument("file", type=Path, nargs="?", help="where to write (default: stdout)")
    dump.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    demo = commands.add_parser("demo", help="a scripted cross-border incident; no token needed")
    demo.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="pause multiplier between scripted steps (0 for none)",
    )
    cli_extra.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    if command == "demo":
        from bot.demo import run_demo

        logs.setup("WARNING")
        return run_demo(speed=args.speed)
    if command in ("sites", "report"):
        return cli_extra.run(args)
    if command == "roster":
        return _roster(args)
    try:
        # without --config, a missing config.toml is fine: a token in the environment is enough
        path = args.config or Path("config.toml")
        settings = load_settings(path, require_token=True, missing_ok=args.config is None)
    except ConfigError as error:
        for line in error.problems:
            print(line, file=sys.stderr)
        return 2
    if command == "check-config":
        print(f"{path}: OK ({len(settings.chats)} chats, {len(settings.people)} people)")
        return 0
    logs.setup(args.log_level, secrets=[settings.token])
    from bot.app import run

    run(settings)
    return 0


def _roster(args: argparse.Namespace) -> int:
    """python -m bot roster import FILE | export [FILE]: the database named by --config."""
    import asyncio

    from bot import resources
    from bot.db import Database

    try:
        path = args.config or Path("config.toml")
        settings = load_settings(path, require_token=False, missing_ok=args.config is None)
    except ConfigError as error:
        for line in error.problems:
            print(line, file=sys.stderr)
        return 2

    async def run() -> int:
        db = Database(settings.storage.path)
        await db.open()
        try:
            if args.roster_command == "import":
                try:
                    content = args.file.read_text(encoding="utf-8-sig")
                except (OSError, UnicodeDecodeError) as exc:
                    print(f"{args.file}: cannot be read ({exc})", file=sys.stderr)
                    return 2
                try:
                    report = await resources.import_roster(
                        db, content, source=str(args.file), replace=args.replace
                    )
                except resources.RosterFileError as error:
                    for line in error.problems:
                        print(line, file=sys.stderr)
                    print(f"{args.file}: rejected, nothing was imported", file=sys.stderr)
                    return 1
                print(
                    f"{args.file}: {report.added} units added, {report.updated} updated,"
                    f" {report.removed} removed ({settings.storage.path})"
                )
                if report.kept_committed:
                    print(
                        "kept (committed or in a request's history): "
                        + ", ".join(report.kept_committed)
                    )
                return 0
            text = await resources.export_roster(db)
            if args.file is None:
                sys.stdout.write(text)
            else:
                args.file.write_text(text, encoding="utf-8")
                print(f"{args.file}: {text.count(chr(10)) - 1} units written")
            return 0
        finally:
            await db.close()

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
