"""Command line: run the bot, check a configuration, or watch the demo."""

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


if __name__ == "__main__":
    sys.exit(main())
