"""The Telegram simulator, exercised through the real PTB Bot and Application over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web
from PIL import Image
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from bot.simulator import SECRET_HEADER, Media, SimChat, SimUser, TelegramSimulator, parse_html, png
from tests.harness import Harness

TOKEN = "123456:TEST-token"

# RetryAfter.retry_after warns about its future timedelta type; seconds() handles both.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def sim() -> AsyncIterator[TelegramSimulator]:
    simulator = TelegramSimulator(token=TOKEN, bot_username="passerelle_test_bot")
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def bot(sim: TelegramSimulator) -> AsyncIterator[Bot]:
    tg_bot = Bot(sim.token, base_url=sim.base_url, base_file_url=sim.base_file_url)
    await tg_bot.initialize()
    yield tg_bot
    await tg_bot.shutdown()


@pytest.fixture
def alice(sim: TelegramSimulator) -> SimUser:
    return sim.add_user(1001, "Alice", username="alice", language_code="fr")


@pytest.fixture
def bob(sim: TelegramSimulator) -> SimUser:
    return sim.add_user(1002, "Bob", last_name="Peeters", language_code="nl")


@pytest.fixture
def group(sim: TelegramSimulator, alice: SimUser, bob: SimUser) -> SimChat:
    return sim.add_chat(-1001, "group", title="Tournai ops", members=[alice, bob], admins=[alice])


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# ---- HTML parse mode -----------------------------------------------------------------


def test_parse_html_entities_use_utf16_offsets() -> None:
    text, entities = parse_html('🚒 <b>Feu</b> &amp; <a href="https://x.be">lien</a> &#x41;')
    assert text == "🚒 Feu & lien A"
    assert entities == [
        {"offset": 3, "length": 3, "type": "bold"},
        {"offset": 9, "length": 4, "type": "text_link", "url": "https://x.be"},
    ]


def test_parse_html_pre_with_language_and_nesting() -> None:
    text, entities = parse_html(
        '<pre><code class="language-python">x = 1</code></pre><b><i>bi</i></b>'
        '<blockquote expandable>q</blockquote><span class="tg-spoiler">s</span>'
    )
    assert text == "x = 1biqs"
    assert {"offset": 0, "length": 5, "type": "pre", "language": "python"} in entities
    assert {"offset": 5, "length": 2, "type": "bold"} in entities
    assert {"offset": 5, "length": 2, "type": "italic"} in entities
    assert {"offset": 7, "length": 1, "type": "expandable_blockquote"} in entities
    assert {"offset": 8, "length": 1, "type": "spoiler"} in entities


@pytest.mark.parametrize(
    ("html", "offset"),
    [
        ("a <br> b", 2),
        ("<b>x", 0),
        ("<b><i>x</b></i>", 7),
        ("1 < 2", 2),
        ("Tom & Jerry", 4),
        ("é&nbsp;", 2),
        ('<span class="x">y</span>', 0),
    ],
)
def test_parse_html_rejects_what_telegram_rejects(html: str, offset: int) -> None:
    with pytest.raises(ValueError, match=f"at byte offset {offset}$"):
        parse_html(html)


# ---- Bot API over HTTP ---------------------------------------------------------------


async def test_get_me(bot: Bot, sim: TelegramSimulator) -> None:
    me = await bot.get_me()
    assert me.id == 123456
    assert me.username == "passerelle_test_bot"
    assert me.is_bot
    assert sim.calls[-1].method == "getMe"
    assert sim.calls[-1].status == 200


async def test_wrong_token_and_unknown_method_shapes(sim: TelegramSimulator) -> None:
    async with httpx.AsyncClient() as client:
        wrong = await client.post(f"{sim.base_url}999:nope/getMe")
        unknown = await client.post(f"{sim.base_url}{sim.token}/sendTelepathy")
        lower = await client.get(f"{sim.base_url}{sim.token}/getme")
        as_json = await client.post(
            f"{sim.base_url}{sim.token}/sendMessage", json={"chat_id": 42, "text": "x"}
        )
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert lower.json()["result"]["username"] == "passerelle_test_bot"
    assert as_json.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: chat not found",
    }
    with pytest.raises(InvalidToken):
        async with Bot("999:nope", base_url=sim.base_url):
            pass


async def test_send_edit_and_not_modified(bot: Bot, sim: TelegramSimulator, group: SimChat) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Actif", callback_data="inc:1:st")]])
    sent = await bot.send_message(
        group.id, "<b>Incident</b> #1", parse_mode=ParseMode.HTML, reply_markup=keyboard
    )
    assert sent.text == "Incident #1"
    assert sent.entities == (MessageEntity(MessageEntity.BOLD, 0, 8),)
    assert sent.from_user is not None and sent.from_user.id == sim.bot.id
    assert sent.reply_markup == keyboard
    stored = sim.message(group, sent.message_id)
    assert (stored.html, stored.text, stored.from_bot) == (
        "<b>Incident</b> #1",
        "Incident #1",
        True,
    )
    assert stored.buttons == [("Actif", "inc:1:st")]

    edited = await bot.edit_message_text(
        "<b>Incident</b> #1 clos", group.id, sent.message_id, parse_mode=ParseMode.HTML
    )
    assert isinstance(edited, type(sent))
    assert edited.edit_date is not None
    assert stored.edits == 1
    assert stored.reply_markup is None  # omitting reply_markup drops the keyboard, like Telegram

    with pytest.raises(BadRequest, match="Message is not modified: specified new message"):
        # Same plain text and entities, written differently: still "not modified".
        await bot.edit_message_text(
            "<strong>Incident</strong> #1 clos", group.id, sent.message_id, parse_mode="HTML"
        )
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", group.id, 999)
    assert stored.edits == 1


async def test_reply_to_message(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    question = await sim.send_text(alice, group, "Qui est sur place ?")
    answer = await bot.send_message(group.id, "Moi", reply_to_message_id=question.message_id)
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "Qui est sur place ?"
    assert sim.message(group, answer.message_id).reply_to is question
    assert answer.message_id == question.message_id + 1  # users and bot share the sequence
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(group.id, "x", reply_to_message_id=77)


async def test_html_and_length_validation(bot: Bot, sim: TelegramSimulator, group: SimChat) -> None:
    with pytest.raises(BadRequest, match=r"Can't parse entities: .* at byte offset 6"):
        await bot.send_message(group.id, "Fuite <chlore>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(group.id, "x" * 4097)
    await bot.send_message(group.id, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(group.id, "<b></b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_document(group.id, b"data", filename="a.txt", caption="c" * 1025)
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(-5, "x")
    assert len(sim.bot_messages(group)) == 1


async def test_callback_data_over_64_bytes_rejected(bot: Bot, group: SimChat) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="é" * 33)]])
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(group.id, "x", reply_markup=markup)


async def test_429_fault_raises_retry_after_and_has_no_effect(
    bot: Bot, sim: TelegramSimulator, group: SimChat
) -> None:
    fault = sim.faults.fail(method="sendMessage", status=429, retry_after=2, times=2)
    for _ in range(2):
        with pytest.raises(RetryAfter) as excinfo:
            await bot.send_message(group.id, "x")
        assert seconds(excinfo.value.retry_after) == 2
    assert sim.bot_messages(group) == []
    await bot.send_message(group.id, "enfin")
    assert [m.text for m in sim.bot_messages(group)] == ["enfin"]
    assert fault.hits == 2
    assert sim.count_status(429) == 2
    body = next(c for c in sim.calls if c.status == 429)
    assert body.description == "Too Many Requests: retry after 2"


async def test_server_errors_and_slow_answers(
    sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    tg_bot = Bot(sim.token, base_url=sim.base_url, request=HTTPXRequest(read_timeout=0.2))
    async with tg_bot:
        sim.faults.fail(method="sendmessage", status=502)
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await tg_bot.send_message(group.id, "x")
        sim.faults.fail(method="sendMessage", status=500, chat_id=group.id)
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await tg_bot.send_message(group.id, "x")
        assert sim.bot_messages(group) == []
        # A slow answer times out on the client, but the message is still sent.
        sim.faults.delay("sendMessage", 0.5)
        with pytest.raises(TimedOut):
            await tg_bot.send_message(group.id, "lent")
        await sim.wait_for(lambda: len(sim.bot_messages(group)) == 1, timeout=2)


async def test_random_faults_are_seeded() -> None:
    outcomes = []
    for _ in range(2):
        simulator = TelegramSimulator(seed=7)
        simulator.faults.fail("getMe", status=500, probability=0.5, times=None)
        outcomes.append([simulator.faults.take("getMe", {}) is not None for _ in range(20)])
    assert outcomes[0] == outcomes[1]
    assert 0 < sum(outcomes[0]) < 20


async def test_blocked_chats_are_forbidden(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    dm = sim.private_chat(alice)
    await bot.send_message(dm.id, "bonjour")
    sim.block(dm)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(dm.id, "encore")
    sim.block(group)
    with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
        await bot.send_message(group.id, "x")
    kinds = [next(k for k in u if k != "update_id") for u in sim.pending_updates]
    assert kinds == ["my_chat_member", "my_chat_member"]


async def test_migration_raises_chat_migrated(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    new_id = sim.migrate_to_supergroup(group)
    assert str(new_id).startswith("-100")
    with pytest.raises(ChatMigrated) as excinfo:
        await bot.send_message(group.id, "x")
    assert excinfo.value.new_chat_id == new_id
    updates = await bot.get_updates()
    assert [u.message.migrate_to_chat_id for u in updates if u.message] == [new_id, None]
    assert updates[1].message is not None and updates[1].message.migrate_from_chat_id == group.id
    sent = await bot.send_message(new_id, "ici")
    assert sent.chat.type == "supergroup"
    assert sim.chat(new_id).status_of(alice.id) == "administrator"


async def test_get_updates_long_polling_and_offset(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    assert not poll.done()
    await sim.send_text(alice, group, "/incident@passerelle_test_bot Fuite de chlore @bob_x")
    updates = await poll
    assert time.monotonic() - started < 2
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None and message.text is not None
    assert message.entities[0] == MessageEntity(MessageEntity.BOT_COMMAND, 0, 29)
    assert message.entities[1].type == MessageEntity.MENTION
    assert message.parse_entities([MessageEntity.MENTION]).popitem()[1] == "@bob_x"
    assert message.from_user is not None and message.from_user.language_code == "fr"
    await sim.wait_delivered(timeout=1)

    # Unconfirmed updates come back; confirmed ones are gone for good.
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [updates[0].update_id]
    empty_started = time.monotonic()
    assert (
        await bot.get_updates(offset=updates[0].update_id + 1, timeout=dtm.timedelta(seconds=0.3))
        == ()
    )
    assert time.monotonic() - empty_started >= 0.25
    assert await bot.get_updates(timeout=0) == ()


async def test_get_updates_conflicts_with_webhook(bot: Bot, sim: TelegramSimulator) -> None:
    await bot.set_webhook("http://127.0.0.1:9/hook")
    with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    info = await bot.get_webhook_info()
    assert info.url == "http://127.0.0.1:9/hook"
    await bot.delete_webhook()
    assert await bot.get_updates() == ()


async def test_press_and_answer_callback_query(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Actif", callback_data="inc:1:st")]])
    sent = await bot.send_message(group.id, "Incident", reply_markup=keyboard)
    with pytest.raises(AssertionError, match="no button"):
        await sim.press(alice, group, sent.message_id, "inc:2:st")
    cq_id = await sim.press(alice, group, sent.message_id, "inc:1:st")
    (update,) = await bot.get_updates()
    query = update.callback_query
    assert query is not None and query.id == cq_id and query.data == "inc:1:st"
    assert query.message is not None and query.message.message_id == sent.message_id
    assert query.from_user.id == alice.id
    assert await query.answer("C'est noté", show_alert=True)
    assert tuple(sim.callback_answers[cq_id]) == ("C'est noté", True)
    with pytest.raises(BadRequest, match="Query is too old"):
        await query.answer("encore")
    # A client may forge callback data; the bot then sees data no button carries.
    forged = await sim.press(alice, group, sent.message_id, "zz", forged=True)
    assert forged != cq_id
    (update,) = await bot.get_updates(offset=update.update_id + 1)
    assert update.callback_query is not None and update.callback_query.data == "zz"


async def test_send_document_and_photo(bot: Bot, sim: TelegramSimulator, group: SimChat) -> None:
    sent = await bot.send_document(
        group.id, b"rapport;1\n", filename="rapport.csv", caption="<i>Bilan</i>", parse_mode="HTML"
    )
    assert sent.document is not None and sent.document.file_name == "rapport.csv"
    assert sent.caption == "Bilan"
    stored = sim.message(group, sent.message_id)
    assert stored.document is not None and stored.document.data == b"rapport;1\n"
    downloaded = await (await bot.get_file(sent.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"rapport;1\n"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (64).to_bytes(4, "big") * 2 + b"\x00" * 8
    photo = await bot.send_photo(group.id, png, caption="carte")
    assert photo.photo[-1].width == 64
    assert sim.message(group, photo.message_id).photo is not None


async def test_pin_members_commands(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser, bob: SimUser
) -> None:
    sent = await bot.send_message(group.id, "Consignes")
    assert await bot.pin_chat_message(group.id, sent.message_id)
    assert sim.pinned(group) is sim.message(group, sent.message_id)
    assert "pinned_message" in sim.messages(group)[-1].extra
    assert (await bot.get_chat(group.id)).pinned_message is not None
    await bot.unpin_all_chat_messages(group.id)
    assert sim.pinned(group) is None

    assert (await bot.get_chat_member(group.id, alice.id)).status == "administrator"
    assert (await bot.get_chat_member(group.id, bob.id)).status == "member"
    assert (await bot.get_chat_member(group.id, sim.bot.id)).status == "member"
    admins = await bot.get_chat_administrators(group.id)
    assert [a.user.id for a in admins] == [alice.id]
    await sim.remove_member(group, bob)
    assert (await bot.get_chat_member(group.id, bob.id)).status == "left"

    scope = BotCommandScopeChat(group.id)
    await bot.set_my_commands([BotCommand("incident", "Ouvrir un incident")], language_code="fr")
    await bot.set_my_commands([BotCommand("ping", "Ping")], scope=scope)
    assert sim.commands_for(language_code="fr") == [
        {"command": "incident", "description": "Ouvrir un incident"}
    ]
    assert [c.command for c in await bot.get_my_commands(scope=scope)] == ["ping"]
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Incident", "x")])
    await bot.delete_my_commands(scope=scope)
    assert len(sim.commands) == 1


async def test_rate_limits_when_enforced(group: SimChat) -> None:
    async with TelegramSimulator(enforce_limits=True) as limited:
        alice = limited.add_user(1, "Alice")
        dm = limited.private_chat(alice)
        ops = limited.add_chat(-7, "group", members=[alice])
        async with Bot(limited.token, base_url=limited.base_url) as tg_bot:
            for _ in range(3):  # a small burst is fine
                await tg_bot.send_message(dm.id, "x")
            with pytest.raises(RetryAfter) as excinfo:
                await tg_bot.send_message(dm.id, "x")
            assert seconds(excinfo.value.retry_after) >= 1
            for _ in range(20):
                await tg_bot.send_message(ops.id, "y")
            with pytest.raises(RetryAfter):
                await tg_bot.send_message(ops.id, "y")
        assert limited.faults.rate_limited == 2
        assert len(limited.bot_messages(dm)) == 3
        assert len(limited.bot_messages(ops)) == 20


async def _receiver() -> tuple[tornado.httpserver.HTTPServer, str, list[tuple[str | None, Any]]]:
    received: list[tuple[str | None, Any]] = []
    failures = {"left": 1}

    class Hook(tornado.web.RequestHandler):
        def post(self) -> None:
            if failures["left"]:
                failures["left"] -= 1
                self.set_status(500)  # the first delivery fails; the simulator must retry
                return
            received.append(
                (self.request.headers.get(SECRET_HEADER), json.loads(self.request.body))
            )

    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/hook", Hook)]))
    server.add_sockets(sockets)
    return server, f"http://127.0.0.1:{sockets[0].getsockname()[1]}/hook", received


async def test_webhook_delivery_with_secret(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    server, url, received = await _receiver()
    try:
        await bot.set_webhook(url, secret_token="s3cret")
        await sim.send_text(alice, group, "/ping")
        await sim.wait_delivered(timeout=3)
        assert len(received) == 1
        secret, body = received[0]
        assert secret == "s3cret"
        update = Update.de_json(body, bot)
        assert update.message is not None and update.message.text == "/ping"
        assert sim.webhook.attempts[0][1] == 500 and sim.webhook.attempts[-1][1] == 200
        assert sim.pending_updates == []
        assert await sim.post_to_webhook({"message": body["message"]}, secret="wrong") == 200
        assert received[-1][0] == "wrong"
    finally:
        server.stop()
        await server.close_all_connections()


class Instance:
    """One instance of a bot behind the simulator's proxy (sim.webhook.balance): a webhook
    that records what it received and answers as told (``answer``: a status, or "hang" to
    answer only after ``hang`` seconds, or "reset" to close the connection unanswered)."""

    def __init__(self, answer: int | str = 200, hang: float = 1.0) -> None:
        self.answer: int | str = answer
        self.hang = hang
        self.received: list[int] = []  # update ids, answered or not
        self.handling = 0  # deliveries being handled now
        self.most_at_once = 0
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: several requests on one connection
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = json.loads(await reader.readexactly(length))
                self.received.append(body["update_id"])
                self.handling += 1
                self.most_at_once = max(self.most_at_once, self.handling)
                try:
                    answer = self.answer
                    if answer == "hang":
                        await asyncio.sleep(self.hang)
                        answer = 200
                    if answer == "reset":
                        writer.transport.abort()
                        return
                finally:
                    self.handling -= 1
                writer.write(f"HTTP/1.1 {answer} X\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def instances() -> AsyncIterator[list[Instance]]:
    started = [Instance(), Instance(), Instance()]
    for instance in started:
        await instance.start()
    yield started
    for instance in started:
        await instance.stop()


def _closed_port_url() -> str:
    """A url where nothing listens: connections are refused."""
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    sockets[0].close()
    return f"http://127.0.0.1:{port}/hook"


async def test_webhook_deliveries_go_round_robin_to_several_instances(
    bot: Bot, sim: TelegramSimulator, alice: SimUser, instances: list[Instance]
) -> None:
    sim.webhook.balance([i.url for i in instances], connections=4)
    await bot.set_webhook("https://passerelle.example/tg", secret_token="s3cret")
    chats = [sim.add_chat(-3000 - n, "group", members=[alice]) for n in range(6)]
    for chat in chats:
        await sim.send_text(alice, chat, f"/ping {chat.id}")
    await sim.wait_delivered(timeout=3)
    assert [len(i.received) for i in instances] == [2, 2, 2]
    assert sorted(u for i in instances for u in i.received) == list(range(1, 7))
    assert sim.webhook.answered() == set(range(1, 7))
    assert sim.webhook.by_url() == {i.url: 2 for i in instances}
    assert sim.webhook.failures() == {}
    assert sim.pending_updates == []


async def test_a_failed_delivery_goes_to_the_next_instance_until_one_answers(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser, instances: list[Instance]
) -> None:
    down, broken, stuck = instances
    await down.stop()
    broken.answer = 502
    stuck.answer, stuck.hang = "hang", 1.0
    sim.webhook.retry_delays = (0.02,)
    sim.webhook.balance([down.url, broken.url, stuck.url], timeout=0.3)
    await bot.set_webhook("https://passerelle.example/tg")
    await sim.send_text(alice, group, "/ping")
    # refused, 502, time-out, again and again: more than the retry delays, the update is
    # kept, as Telegram keeps it
    await sim.wait_for(lambda: len(sim.webhook.deliveries) >= 7, timeout=5)
    assert sim.pending_updates != [] and sim.webhook.answered() == set()
    failures = sim.webhook.failures()
    assert failures.keys() == {"refused", "502", "timeout"}
    broken.answer = 200  # the instance is repaired
    await sim.wait_delivered(timeout=5)
    assert sim.webhook.answered() == {1}
    last = sim.webhook.deliveries[-1]
    assert (last.url, last.status, last.ok) == (broken.url, 200, True)
    # the stuck instance got the update too (it timed out): delivered twice, answered once
    assert 1 in stuck.received and 1 in broken.received
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 0 and info.last_error_message


async def test_an_instance_dying_during_a_delivery_is_a_failure_retried_elsewhere(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser, instances: list[Instance]
) -> None:
    dying, alive, _ = instances
    dying.answer = "reset"
    sim.webhook.balance([dying.url, alive.url])
    await bot.set_webhook("https://passerelle.example/tg")
    await sim.send_text(alice, group, "/ping")
    await sim.wait_delivered(timeout=3)
    outcomes = [(d.url, d.outcome) for d in sim.webhook.deliveries]
    assert outcomes == [(dying.url, "reset"), (alive.url, "200")]
    assert dying.received == alive.received == [1]


async def test_webhook_keeps_each_chat_in_order_and_chats_at_once(
    bot: Bot, sim: TelegramSimulator, alice: SimUser, instances: list[Instance]
) -> None:
    for instance in instances:
        instance.answer, instance.hang = "hang", 0.3
    sim.webhook.balance([i.url for i in instances], connections=8)
    await bot.set_webhook("https://passerelle.example/tg")
    ops = sim.add_chat(-4001, "group", members=[alice])
    others = [sim.add_chat(-4002 - n, "group", members=[alice]) for n in range(3)]
    await sim.send_text(alice, ops, "one")
    await sim.send_text(alice, ops, "two")
    for chat in others:
        await sim.send_text(alice, chat, "hello")
    await sim.wait_delivered(timeout=5)
    one, two = (d for d in sim.webhook.deliveries if d.update_id in (1, 2))
    # the group's second update only once its first was answered...
    assert one.update_id == 1 and two.started >= one.ended
    # ...while the other chats' updates were delivered at the same time as the first
    during = [d for d in sim.webhook.deliveries if d.update_id > 2 and d.started < one.ended]
    assert len(during) == 3
    assert sum(i.most_at_once for i in instances) >= 3


async def test_without_balance_a_failing_webhook_gives_up_in_the_end(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    url = _closed_port_url()
    sim.webhook.retry_delays = (0.01, 0.01)
    await bot.set_webhook(url)
    await sim.send_text(alice, group, "/ping")
    await sim.wait_delivered(timeout=3)  # dropped after the last retry
    assert [d.outcome for d in sim.webhook.deliveries] == ["refused"] * 3
    assert sim.webhook.answered() == set() and sim.pending_updates == []


async def test_each_process_of_a_bot_is_named_in_its_calls(
    sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    named = Bot(
        sim.token,
        base_url=sim.base_url_for("instance-2"),
        base_file_url=sim.base_file_url_for("instance-2"),
    )
    await named.initialize()
    try:
        await named.send_message(group.id, "from the second instance")
        assert sim.calls[-1].client == "instance-2" and sim.calls[-1].ok
        sent = await sim.send_document(alice, group, b"%PDF plan", "plan.pdf")
        assert sent.file is not None
        got = await named.get_file(sent.file.file_id)
        assert await got.download_as_bytearray() == b"%PDF plan"
    finally:
        await named.shutdown()
    assert sim.bot_messages(group)[-1].text == "from the second instance"


async def test_application_answers_ping(
    sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    async def ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("<b>pong</b>", parse_mode=ParseMode.HTML)

    app = (
        ApplicationBuilder()
        .token(sim.token)
        .base_url(sim.base_url)
        .base_file_url(sim.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("ping", ping))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        request = await sim.send_text(alice, group, "/ping")
        reply = await sim.wait_for_bot_message(group, after=request.message_id)
        assert (reply.text, reply.html) == ("pong", "<b>pong</b>")
        assert reply.reply_to is request
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert sim.pending_updates == []  # the updater confirmed what it handled


async def test_wait_for_failure_dumps_recent_messages(
    sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    await sim.send_text(alice, group, "hello")
    with pytest.raises(AssertionError, match=r"(?s)recent messages:.*Alice: 'hello'"):
        await sim.wait_for(lambda: False, timeout=0.05)


async def test_application_in_webhook_mode(
    sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    async def ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("pong")

    app = ApplicationBuilder().token(sim.token).base_url(sim.base_url).build()
    app.add_handler(CommandHandler("ping", ping))
    port = tornado.netutil.bind_sockets(0, "127.0.0.1")[0]
    free_port = port.getsockname()[1]
    port.close()
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_webhook(
        listen="127.0.0.1",
        port=free_port,
        url_path="hook",
        webhook_url=f"http://127.0.0.1:{free_port}/hook",
        secret_token="s3cret",
    )
    try:
        assert sim.webhook_url == f"http://127.0.0.1:{free_port}/hook"
        request = await sim.send_text(alice, group, "/ping")
        reply = await sim.wait_for_bot_message(group, after=request.message_id)
        assert reply.text == "pong"
        forged = {"message": request.to_dict()}
        assert await sim.post_to_webhook(forged, secret="wrong") == 403
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def test_membership_updates_and_recorded_calls(
    bot: Bot, sim: TelegramSimulator, alice: SimUser, bob: SimUser
) -> None:
    ops = sim.add_chat(-2002, "supergroup", title="Mons", members=[bob], bot_status="left")
    with pytest.raises(Forbidden, match="bot is not a member of the supergroup chat"):
        await bot.send_message(ops.id, "x")
    await sim.add_member(ops, sim.bot, by=bob, status="administrator")
    await sim.add_member(ops, alice)
    updates = await bot.get_updates(allowed_updates=["message", "my_chat_member"])
    mine = updates[0].my_chat_member
    assert mine is not None and mine.new_chat_member.status == "administrator"
    assert mine.old_chat_member.status == "left" and mine.from_user.id == bob.id
    joined = [u.message.new_chat_members for u in updates if u.message]
    assert [[m.id for m in users] for users in joined] == [[sim.bot.id], [alice.id]]

    await bot.send_message(ops.id, "Bonjour", disable_notification=True)
    call = sim.calls_to("sendMessage")[-1]
    assert (call.arg("chat_id"), call.arg("text"), call.arg("disable_notification")) == (
        ops.id,
        "Bonjour",
        True,
    )
    assert sim.last_bot_message(ops) is not None
    assert sim.count_status(403) == 1
    dm_info = await bot.get_chat(sim.private_chat(alice).id)
    assert (dm_info.type, dm_info.first_name, dm_info.username) == ("private", "Alice", "alice")


# ---- what users send besides text (issue 13) --------------------------------------------


async def test_each_kind_a_user_sends_reads_in_ptb(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser, bob: SimUser
) -> None:
    card = await bot.send_message(group.id, "Carte")
    photo = await sim.send_photo(alice, group, caption="/log #3 Panache", reply_to=card.message_id)
    await sim.send_video(bob, group, duration=31, width=1280, height=720, caption="Accès")
    await sim.send_video_note(bob, group, duration=9)
    await sim.send_voice(alice, group, duration=14, reply_to=card.message_id)
    await sim.send_audio(alice, group, performer="CTA", title="Appel 112", duration=95)
    await sim.send_document(bob, group, b"%PDF-1.4 plan", "plan.pdf", caption="Plan ETARE")
    await sim.send_animation(bob, group)
    await sim.send_sticker(bob, group, emoji="🚒")
    await sim.send_contact(alice, group, "+32470123456", "Dr Martin", last_name="Dubois")
    await sim.send_venue(alice, group, 50.6066, 3.389, "Gare de Tournai", "Place Crombez")
    updates = await bot.get_updates()
    messages = [u.message for u in updates]
    assert all(m is not None for m in messages)
    (
        p,
        video,
        note,
        voice,
        audio,
        document,
        animation,
        sticker,
        contact,
        venue,
    ) = messages
    assert p is not None and len(p.photo) == 3  # 90, 320 and the 800x600 original
    assert [(s.width, s.height) for s in p.photo] == [(90, 68), (320, 240), (800, 600)]
    assert photo.file is not None and p.photo[-1].file_id == photo.file.file_id
    assert p.caption == "/log #3 Panache"
    assert p.caption_entities[0] == MessageEntity(MessageEntity.BOT_COMMAND, 0, 4)
    assert p.caption_entities[1].type == MessageEntity.HASHTAG
    assert p.reply_to_message is not None and p.reply_to_message.message_id == card.message_id
    assert p.effective_attachment == p.photo
    assert video is not None and video.video is not None
    assert (video.video.duration, video.video.width, video.video.mime_type) == (
        dtm.timedelta(seconds=31) if isinstance(video.video.duration, dtm.timedelta) else 31,
        1280,
        "video/mp4",
    )
    assert note is not None and note.video_note is not None and note.video_note.length == 240
    assert voice is not None and voice.voice is not None
    assert voice.voice.mime_type == "audio/ogg" and voice.caption is None
    assert audio is not None and audio.audio is not None
    assert (audio.audio.performer, audio.audio.title) == ("CTA", "Appel 112")
    assert document is not None and document.document is not None
    assert document.document.file_name == "plan.pdf" and document.document.file_size == 13
    assert animation is not None and animation.animation is not None
    assert animation.document is not None  # Telegram sends a GIF as both
    assert sticker is not None and sticker.sticker is not None and sticker.sticker.emoji == "🚒"
    assert contact is not None and contact.contact is not None
    assert (contact.contact.phone_number, contact.contact.last_name) == ("+32470123456", "Dubois")
    assert venue is not None and venue.venue is not None and venue.location is not None
    assert venue.venue.title == "Gare de Tournai" and venue.venue.location.latitude == 50.6066
    # each file is known to getFile and served at base_file_url
    for message in (p, video, note, voice, audio, document, animation, sticker):
        assert message is not None
        attachment = message.effective_attachment
        item = attachment[-1] if isinstance(attachment, tuple) else attachment
        file = await item.get_file()  # type: ignore[union-attr]
        data = await file.download_as_bytearray()
        assert len(data) == file.file_size
    assert bytes(await (await p.photo[-1].get_file()).download_as_bytearray())[:4] == b"\x89PNG"
    assert sim.downloads() == 9 and photo.file is not None and sim.downloads(photo.file) == 2


async def test_album_is_one_update_per_item_sharing_a_media_group_id(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    sent = await sim.send_album(
        alice, group, ["photo", Media("video", duration=4), "photo"], caption="/log Toit effondré"
    )
    updates = await bot.get_updates()
    assert len(updates) == 3
    items = [u.message for u in updates]
    assert all(m is not None for m in items)
    groups = {m.media_group_id for m in items if m is not None}
    assert len(groups) == 1 and None not in groups
    assert [m.caption for m in items if m is not None] == ["/log Toit effondré", None, None]
    assert [m.message_id for m in items if m is not None] == [m.message_id for m in sent]
    ten = await sim.send_album(alice, group, ["photo"] * 10)
    assert len({m.media_group_id for m in ten}) == 1 and ten[0].media_group_id not in groups
    with pytest.raises(ValueError, match="2 to 10"):
        await sim.send_album(alice, group, ["photo"] * 11)
    with pytest.raises(ValueError, match="mixes"):
        await sim.send_album(alice, group, ["photo", "document"])


async def test_captions_telegram_refuses_are_refused(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    await sim.send_photo(alice, group, caption="é" * 1024)
    with pytest.raises(ValueError, match="limit 1024"):
        await sim.send_photo(alice, group, caption="é" * 1025)
    with pytest.raises(ValueError, match="limit 1024"):
        await sim.send_photo(alice, group, caption="🚒" * 513)  # 2 UTF-16 units each
    long = await sim.send_voice(alice, group, caption="x" * 4096, premium=True)
    with pytest.raises(ValueError, match="limit 4096"):
        await sim.send_voice(alice, group, caption="x" * 4097, premium=True)
    with pytest.raises(ValueError, match="no caption"):
        await sim.send_video_note(alice, group, caption="hello")
    updates = await bot.get_updates()
    assert len(updates) == 2  # refused sends queue nothing
    assert updates[1].message is not None and updates[1].message.caption == long.caption


async def test_the_author_edits_text_and_caption(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser, bob: SimUser
) -> None:
    sim.world.clock = lambda: 1_700_000_000.0
    card = await bot.send_message(group.id, "Carte")
    said = await sim.send_text(alice, group, "3 victimes", reply_to=card.message_id)
    shot = await sim.send_photo(bob, group, caption="Plaque 1203")
    await bot.get_updates()
    await bot.get_updates(offset=sim.world.updates.last_id + 1)
    sim.world.clock = lambda: 1_700_000_090.0
    await sim.edit_message(alice, group, said, "4 victimes /log")
    await sim.edit_message(bob, group, shot, "Plaque 33/1203")
    (text_edit, caption_edit) = await bot.get_updates()
    assert text_edit.message is None and text_edit.edited_message is not None
    edited = text_edit.edited_message
    assert edited.text == "4 victimes /log" and edited.message_id == said.message_id
    assert edited.edit_date is not None and edited.edit_date.timestamp() == 1_700_000_090
    assert edited.date.timestamp() == 1_700_000_000
    assert edited.entities[0].type == MessageEntity.BOT_COMMAND
    assert edited.reply_to_message is not None
    assert edited.reply_to_message.message_id == card.message_id
    assert caption_edit.edited_message is not None
    assert caption_edit.edited_message.caption == "Plaque 33/1203"
    assert caption_edit.edited_message.photo
    assert [v.text for v in said.history] == ["3 victimes"] and said.edits == 1
    assert sim.message(group, said).text == "4 victimes /log"
    # Telegram redelivering the edit: the same id and body again
    sim.redeliver(text_edit.update_id)
    (again,) = await bot.get_updates(offset=caption_edit.update_id + 1)
    assert again.update_id == text_edit.update_id and again.to_dict() == text_edit.to_dict()
    assert await bot.get_updates(offset=caption_edit.update_id + 1) == ()
    with pytest.raises(AssertionError, match="cannot edit"):
        await sim.edit_message(bob, group, said, "5 victimes")
    with pytest.raises(ValueError, match="changes nothing"):
        await sim.edit_message(alice, group, said, "4 victimes /log")
    with pytest.raises(ValueError, match="limit 1024"):
        await sim.edit_message(bob, group, shot, "x" * 1025)


async def test_get_file_refuses_files_over_20_mb(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    big = await sim.send_video(alice, group, size=50 * 1024 * 1024, caption="Incendie")
    (update,) = await bot.get_updates()
    assert update.message is not None and update.message.video is not None
    assert update.message.video.file_size == 50 * 1024 * 1024
    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await bot.get_file(update.message.video.file_id)
    assert big.file is not None and big.file.too_big and sim.downloads() == 0
    limit = await sim.send_document(alice, group, size=20 * 1024 * 1024)
    assert limit.file is not None
    got = await bot.get_file(limit.file.file_id)
    assert got.file_size == 20 * 1024 * 1024


async def test_download_faults_gone_files_and_counts(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    data = b"OggS voice note"
    voice = await sim.send_voice(alice, group, data=data)
    assert voice.file is not None
    file = await bot.get_file(voice.file.file_id)
    sim.fail_download(502, file=voice.file)
    with pytest.raises(NetworkError):
        await file.download_as_bytearray()
    assert sim.downloads(voice.file) == 0
    assert bytes(await file.download_as_bytearray()) == data
    assert sim.downloads(voice.file.file_id) == 1
    sim.fail_download(None, delay=0.3)
    started = time.monotonic()
    assert bytes(await file.download_as_bytearray()) == data
    assert time.monotonic() - started >= 0.25
    sim.expire_file(voice.file)
    with pytest.raises(InvalidToken):  # PTB reports any 404 as a bad token
        await file.download_as_bytearray()
    with pytest.raises(BadRequest, match="temporarily unavailable"):
        await bot.get_file(voice.file.file_id)
    assert sim.downloads(voice.file) == 2
    assert [status for _, status in sim.world.downloads] == [502, 200, 200, 404]


async def test_harness_plays_media_albums_and_edits_to_the_real_app(harness: Harness) -> None:
    h = harness
    await h.say(h.commander, h.ops, "/incident Fuite de chlore, gare de triage de Tournai")
    card = h.card(h.ops)
    reply = await h.say(h.responder, h.ops, "Nuage jaune", reply_to=card)
    photo = await h.send_photo(h.responder, h.ops, reply_to=card, caption="Plaque 33/1017")
    album = await h.send_album(h.responder, h.ops, ["photo", "photo", "video"], reply_to=card)
    voice = await h.send_voice(h.responder, h.ops, reply_to=card, duration=7)
    await h.send_sticker(h.responder, h.ops)
    await h.send_contact(h.responder, h.ops, "+32470123456", "Dr Martin")
    await h.send_venue(h.responder, h.ops, 50.6066, 3.389, "Gare", "Place Crombez")
    await h.edit(h.responder, h.ops, reply, "Nuage jaune vers Mouscron")
    edit_id = h.sim.last_update_id
    await h.redeliver(edit_id)
    handed = [u["update_id"] for c in h.sim.calls_to("getUpdates") if c.ok for u in c.result or []]
    assert handed.count(edit_id) == 2  # the bot really got it twice
    # every update was taken and handled (settle would have failed otherwise)
    assert not h.sim.world.updates.pending
    assert photo.file is not None and len(photo.files) == 3
    assert len({m.media_group_id for m in album}) == 1 and voice.content["voice"]["duration"] == 7
    assert h.sim.message(h.ops, reply).edit_date is not None
    assert h.sim.count_status(500) == 0


async def test_the_built_application_downloads_from_the_simulator_without_base_file_url(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    assert "base_file_url" not in h.data["telegram"]
    assert h.settings.telegram.base_file_url == h.sim.base_file_url
    assert h.app is not None
    bot = h.app.bot
    assert bot.base_file_url == f"{h.sim.base_file_url}{h.sim.token}"
    data = png(64, 48)
    photo = await h.send_photo(h.responder, h.ops, data=data, caption="Plaque")
    voice = await h.send_voice(h.responder, h.ops, data=b"OggS note", duration=3)
    assert photo.file is not None and voice.file is not None
    got = await bot.get_file(photo.file.file_id)
    assert got.file_path is not None and got.file_path.startswith(h.sim.base_file_url)
    kept = await got.download_to_drive(tmp_path / "photo.png")
    assert kept.read_bytes() == data
    note = await (await bot.get_file(voice.file.file_id)).download_as_bytearray()
    assert bytes(note) == b"OggS note"
    assert h.sim.downloads(photo.file) == 1 and h.sim.downloads(voice.file) == 1
    assert [status for _, status in h.sim.world.downloads] == [200, 200]


async def test_a_download_whose_client_leaves_is_not_counted(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    doc = await sim.send_document(alice, group, b"%PDF plan", "plan.pdf")
    assert doc.file is not None
    url = (await bot.get_file(doc.file.file_id)).file_path
    assert url is not None
    sim.fail_download(None, file=doc.file, delay=0.5)
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ReadTimeout):
            # only the read is short: a loaded machine may take longer to connect
            await client.get(url, timeout=httpx.Timeout(10.0, read=0.1))
        await asyncio.sleep(0.6)
        assert sim.downloads(doc.file) == 0
        assert sim.world.downloads == [(doc.file.file_path, 499)]
        again = await client.get(url)
    assert again.content == b"%PDF plan" and sim.downloads(doc.file) == 1


async def test_other_kinds_and_empty_messages_pass_as_given(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    await sim.send_other(alice, group, {"dice": {"emoji": "🎲", "value": 3}})
    await sim.send_other(alice, group, {})
    dice, empty = await bot.get_updates()
    assert dice.message is not None and dice.message.dice is not None
    assert dice.message.dice.value == 3
    assert empty.message is not None and empty.message.effective_attachment is None
    assert empty.message.text is None and empty.message.caption is None


async def test_a_jpeg_photo_gets_telegram_sizes_and_its_bytes_back(
    bot: Bot, sim: TelegramSimulator, group: SimChat, alice: SimUser
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (1600, 1200), "orange").save(buffer, "JPEG")
    jpeg = buffer.getvalue()
    sent = await sim.send_photo(alice, group, jpeg)
    (update,) = await bot.get_updates()
    assert update.message is not None
    sizes = [(s.width, s.height) for s in update.message.photo]
    assert sizes == [(90, 68), (320, 240), (800, 600), (1280, 960), (1600, 1200)]
    largest = await (await update.message.photo[-1].get_file()).download_as_bytearray()
    assert bytes(largest) == jpeg and sent.file is not None and sent.file.data == jpeg
    small = await (await update.message.photo[0].get_file()).download_as_bytearray()
    assert Image.open(io.BytesIO(bytes(small))).size == (90, 68)
