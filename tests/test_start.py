"""Starting the bot (`python -m bot`) off the happy path: a token the Bot API rejects, and a
network that is down at start. The bot runs as a separate process against the stand-in."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path

from bot.simulator import TelegramSimulator

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "424243:START-token"
WRONG = "999:WRONG-token"


def _config(tmp_path: Path, token: str, port: int) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        "[telegram]\n"
        f"token = {json.dumps(token)}\n"
        f'base_url = "http://127.0.0.1:{port}/bot"\n'
        f'base_file_url = "http://127.0.0.1:{port}/file/bot"\n'
        "poll_timeout = 1\n"
        "[storage]\n"
        f"path = {json.dumps(str(tmp_path / 'bot.db'))}\n"
    )
    return path


async def _start_bot(config: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},  # no TELEGRAM_BOT_TOKEN from the test's environment
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def _closed_port() -> int:
    """A local port nobody listens on: Telegram out of reach."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _lines_until(bot: asyncio.subprocess.Process, seen: list[str], needle: str) -> None:
    """Read the bot's stderr into `seen` until a line holds `needle` (within 15 s)."""
    timeout = 15
    assert bot.stderr is not None
    try:
        async with asyncio.timeout(timeout):
            while True:
                raw = await bot.stderr.readline()
                assert raw, f"the bot ended before {needle!r}:\n" + "".join(seen)
                seen.append(raw.decode())
                if needle in seen[-1]:
                    return
    except TimeoutError:
        raise AssertionError(f"no {needle!r} in {timeout} s:\n" + "".join(seen)) from None


async def test_a_rejected_token_gives_one_line_and_exit_code_2(tmp_path: Path) -> None:
    async with TelegramSimulator(token=TOKEN) as sim:
        bot = await _start_bot(_config(tmp_path, WRONG, sim.port))
        async with asyncio.timeout(30):
            out, err = await bot.communicate()
    assert bot.returncode == 2
    assert out == b""
    assert err.decode().splitlines() == [
        f"The Bot API rejected the bot token: check [telegram] token in {tmp_path}/config.toml"
        " (the token @BotFather gave you) and [telegram] base_url"
    ]
    assert WRONG.encode() not in err
    assert b"WRONG" not in err


async def test_a_network_down_at_start_is_tried_again_until_it_comes_back(
    tmp_path: Path,
) -> None:
    port = _closed_port()
    bot = await _start_bot(_config(tmp_path, TOKEN, port))
    seen: list[str] = []
    try:
        # one line per attempt, waiting longer each time
        await _lines_until(bot, seen, "trying again in 1 s")
        await _lines_until(bot, seen, "trying again in 2 s")
        assert bot.returncode is None
        assert all("Telegram unreachable (" in line for line in seen), seen
        # the link comes back: the bot starts by itself
        sim = TelegramSimulator(token=TOKEN)
        await sim.start(port)
        try:
            await _lines_until(bot, seen, "Application started")
            assert sim.calls_to("getMe")
            bot.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                _, rest = await bot.communicate()
        finally:
            await sim.stop()
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    output = "".join(seen) + rest.decode()
    assert bot.returncode == 0
    assert "Traceback" not in output
    assert TOKEN not in output


async def test_ctrl_c_while_telegram_is_unreachable_stops_quietly(tmp_path: Path) -> None:
    bot = await _start_bot(_config(tmp_path, TOKEN, _closed_port()))
    seen: list[str] = []
    try:
        await _lines_until(bot, seen, "trying again in 1 s")
        bot.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            _, rest = await bot.communicate()
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    output = "".join(seen) + rest.decode()
    assert bot.returncode == 0
    assert output.splitlines()[-1].endswith("Stopped before Telegram could be reached")
    assert "Traceback" not in output


async def test_a_stop_before_the_bot_runs_still_stops_what_post_init_started(
    tmp_path: Path,
) -> None:
    """SIGTERM while PTB starts polling (after post_init, before the application runs): PTB
    skips post_stop and goes to shutdown; the outbox sender and the live messages must stop
    all the same, or the process never ends."""
    from bot.app import _stop, build_application
    from bot.core.config import parse_settings
    from bot.runtime import Runtime
    from handlers.context import RUNTIME_KEY
    from tests.conftest import settings_data

    simulator = TelegramSimulator(token=TOKEN, bot_username="passerelle_test_bot")
    await simulator.start()
    try:
        data = settings_data(tmp_path / "bot.db")
        data["telegram"] = {
            **data["telegram"],
            "token": TOKEN,
            "base_url": simulator.base_url,
            "base_file_url": simulator.base_file_url,
        }
        app = build_application(parse_settings(data, env={}))
        await app.initialize()
        assert app.post_init is not None
        await app.post_init(app)
        runtime: Runtime = app.bot_data[RUNTIME_KEY]
        assert runtime.sender is not None and runtime.sender.running
        # as PTB's run_polling does when the signal comes before app.start()
        assert not app.running
        await app.shutdown()
        async with asyncio.timeout(10):
            await _stop(app)
        assert not runtime.sender.running
        leftovers = [
            t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()
        ]
        assert not [t for t in leftovers if "outbox" in repr(t) or "live" in repr(t)]
    finally:
        await simulator.stop()
