"""The bot token never appears in the logs (even at DEBUG, httpx and PTB included, even in a
traceback) nor in any message; SQL is parameterised everywhere."""

from __future__ import annotations

import ast
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core import logs
from bot.simulator import TelegramSimulator
from tests.harness import Harness

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-token"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything logged, at DEBUG, through Passerelle's own handler and filter."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "telegram")}
    stream = io.StringIO()
    logs.setup("DEBUG", secrets=[TOKEN])
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)  # httpx logs every URL at INFO
    yield stream
    root.handlers[:], root.level = saved
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


async def test_the_token_is_in_no_log_line_and_no_message(
    sim: TelegramSimulator, tmp_path: Path, captured: io.StringIO
) -> None:
    h = Harness(sim, tmp_path / "logs.db")
    await h.start()
    try:
        await h.say(h.commander, h.ops, "/incident Fuite de chlore")
        await h.say(h.responder, h.ops, "Deux blessés", reply_to=h.card(h.ops))
        await h.say(h.liaison, h.liaison_fr, "/alert Confinement")
        # errors too: a failing call, and an exception logged with its traceback
        sim.faults.fail(method="editMessageText", status=500, times=1)
        await h.say(h.responder, h.ops, "Vent d'ouest", reply_to=h.card(h.ops))
        try:
            raise RuntimeError(f"request to {sim.base_url}{TOKEN}/sendMessage failed")
        except RuntimeError:
            logging.getLogger("bot.test").exception("event=test_failure")
    finally:
        await h.stop()
    output = captured.getvalue()
    # the log did see the bot's requests (so the check means something)…
    assert "getUpdates" in output and "sendMessage" in output and "Traceback" in output
    # …and never the token
    assert TOKEN not in output
    assert TOKEN.split(":")[1] not in output
    assert "[redacted]" in output
    for call in sim.calls:
        assert TOKEN not in repr(call.params)
        assert TOKEN not in repr(call.result)


# SQL built from pieces: only these spots, each joining fixed SQL (whitelisted names, "?"
# placeholders), never a value. Anything else must pass its values as parameters.
ALLOWED_DYNAMIC_SQL = {
    ("bot/incidents/service.py", "change_text"): "column from _TEXT_COLUMNS",
    ("bot/incidents/service.py", "assign"): "column from _ASSIGNMENT_COLUMN",
    (
        "bot/core/db/sqlite.py",
        "_migrate",
    ): "the migration files' statements; PRAGMA user_version = an int",
    ("bot/core/db/sqlite.py", "_end"): "COMMIT or ROLLBACK",
    ("bot/core/db/sqlite.py", "_statement"): "SAVEPOINT names of ours: attempt_<int>",
    ("bot/core/db/tools.py", "_copy"): "table and column names read from the schema itself",
    ("bot/core/db/postgres.py", "begin"): "BEGIN, the advisory lock's constant, NOTIFY our token",
    ("bot/core/db/postgres.py", "_end"): "COMMIT or ROLLBACK",
    ("bot/core/db/postgres.py", "_statement"): "SAVEPOINT names of ours: attempt_<int>",
    (
        "bot/core/db/postgres.py",
        "_migrate",
    ): "the migration files' statements, translated; the lock's constant",
    ("bot/core/db/postgres.py", "_begun"): "BEGIN, or the begin statement of `begin` above",
    ("bot/core/db/base.py", "measure_clock"): "server_time_sql, each backend's constant",
    ("bot/cluster/members.py", "members"): "_COLUMNS, a constant list of columns",
    ("bot/cluster/members.py", "_row"): "_COLUMNS, a constant list of columns",
    ("bot/cluster/members.py", "beat"): "_COLUMNS, a constant list of columns",
    ("bot/delivery/outbox.py", "start"): "RELEASABLE_CLAIMS, a constant (bot.cluster.members)",
    ("bot/evidence/keeper.py", "start"): "RELEASABLE_CLAIMS, a constant (bot.cluster.members)",
    ("bot/delivery/outbox.py", "_heads"): "lock is the database's skip_locked (a constant)",
    ("bot/resources/requests.py", "_offers"): "callers pass constant where clauses (checked below)",
    ("bot/resources/requests.py", "advance"): "column is en_route_at or on_scene_at",
    ("bot/geo/sites.py", "import_sites"): "one ? placeholder per code",
    # the board's visibility: Viewer.clause() joins fixed SQL with ? placeholders (no value)
    ("bot/board/access.py", "may_see_in"): "where from Viewer.clause",
    ("bot/board/access.py", "visible_in"): "where from Viewer.clause; one ? per ref",
    ("bot/board/access.py", "open_visible_in"): "where from Viewer.clause",
    (
        "bot/resources/units.py",
        "roster_in",
    ): "where from _filters: constant clauses and ? placeholders",
}
SQL_METHODS = {"execute", "executemany", "executescript", "one", "all"}


def _constant(node: ast.expr) -> bool:
    """Fixed SQL: literals, module constants (UPPER_CASE), and conditionals between them."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Name):
        return node.id.lstrip("_").isupper()
    if isinstance(node, ast.IfExp):
        return _constant(node.body) and _constant(node.orelse)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _constant(node.left) and _constant(node.right)
    return False


def _dynamic_sql() -> list[tuple[str, str, int]]:
    found = []
    for folder in ("bot", "handlers"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith("bot/simulator/"):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for function in ast.walk(tree):
                if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(function):
                    if (
                        isinstance(node, ast.Call)
                        and isinstance(node.func, ast.Attribute)
                        and node.func.attr in SQL_METHODS
                        and node.args
                        and not (isinstance(node.args[0], ast.Name) and node.args[0].id == "sql")
                        and not _constant(node.args[0])
                    ):
                        found.append((relative, function.name, node.lineno))
    return found


def test_sql_is_parameterised_everywhere() -> None:
    dynamic = _dynamic_sql()
    assert dynamic, "the scan finds nothing: it is broken"
    unexpected = [
        (path, function, line)
        for path, function, line in dynamic
        if (path, function) not in ALLOWED_DYNAMIC_SQL
        and not (
            path.startswith("bot/core/db/") and function in ("execute", "executemany", "one", "all")
        )
    ]
    assert unexpected == [], "SQL built from values: use ? parameters"
    # the one helper taking a WHERE clause gets constants only
    source = (ROOT / "bot/resources/requests.py").read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_offers":
            assert isinstance(node.args[1], ast.Constant), ast.unparse(node)


def test_no_sql_is_formatted_with_percent_or_format() -> None:
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
                    left = node.left
                    if isinstance(left, ast.Constant) and isinstance(left.value, str):
                        words = left.value.upper().split()
                        assert not {"SELECT", "UPDATE", "INSERT", "DELETE"} & set(words), path
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "format"
                    and isinstance(node.func.value, ast.Constant)
                    and isinstance(node.func.value.value, str)
                ):
                    words = node.func.value.value.upper().split()
                    assert not {"SELECT", "UPDATE", "INSERT", "DELETE"} & set(words), path
