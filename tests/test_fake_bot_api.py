"""Proves that tests/support/fake_bot_api.py works with the real python-telegram-bot.

Each test runs a real PTB ``Application`` (or a bare ``Bot``) against the fake Bot API on
127.0.0.1 and scripts users through it. Nothing here talks to Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.support.fake_bot_api import FakeBotAPI, FaultPlan, parse_html, utf16_len

TOKEN = "123456:TEST-token-for-the-fake"


@pytest.fixture
async def server() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as fake:
        yield fake


def build_app(server: FakeBotAPI, *, rate_limiter: AIORateLimiter | None = None) -> Application:
    builder = ApplicationBuilder().token(server.token).base_url(server.base_url).base_file_url(server.base_file_url)
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    app = builder.build()
    app.bot_data["seen"] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_chat is not None
        context.bot_data["seen"].append((update.update_id, update.effective_chat.type))
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton("Yes", callback_data="answer:yes"), InlineKeyboardButton("No", callback_data="n")]]
        )
        await update.effective_message.reply_text(
            f"Hello <b>{update.effective_user.first_name if update.effective_user else '?'}</b>, ready?",
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
        )

    async def on_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        context.bot_data["seen"].append((update.update_id, query.data))
        await query.answer("Noted")
        await query.edit_message_text(f"You chose {query.data}")

    async def anything(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        context.bot_data["seen"].append((update.update_id, "other"))

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(on_tap))
    app.add_handler(MessageHandler(filters.ALL, anything))
    return app


@contextlib.asynccontextmanager
async def running(app: Application) -> AsyncIterator[Application]:
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


async def test_start_tap_and_edit_round_trip(server: FakeBotAPI) -> None:
    ann = server.user(1001, first_name="Ann", language_code="nl")
    async with running(build_app(server)):
        replies = await ann.send_and_wait("/start abc")
        assert [m.text for m in replies] == ["Hello Ann, ready?"], ann.transcript()
        greeting = ann.last_message
        assert greeting is not None
        assert greeting.parse_mode == "HTML"
        assert greeting.raw_text == "Hello <b>Ann</b>, ready?"
        assert greeting.entities == [{"offset": 6, "length": 3, "type": "bold"}]
        assert ann.buttons() == [["Yes", "No"]]

        edited = await ann.tap_and_wait("Yes")
        assert [m.message_id for m in edited] == [greeting.message_id]

    assert ann.toasts == ["Noted"]
    assert greeting.text == "You chose answer:yes"
    assert greeting.edit_count == 1 and greeting.history == ["Hello Ann, ready?"]
    assert ann.buttons() == []  # an edit without reply_markup drops the keyboard, as on Telegram
    assert [m.message_id for m in ann.messages] == [2]  # the user's /start was message 1
    assert ann.transcript() == (
        "> Ann: /start abc\n"
        "< bot #2: Hello Ann, ready?\n"
        "      [Yes] [No]\n"
        "> Ann taps [Yes] (data='answer:yes') on #2\n"
        "< bot answers tap with toast 'Noted'\n"
        "< bot edits text (edit 1) #2: You chose answer:yes"
    )
    assert server.violations == [] and server.errors == [] and server.unknown_methods == []
    assert server.unanswered_callback_queries() == []
    # The final getUpdates of Updater.stop() confirmed both updates.
    assert server.updates_confirmed == [1, 2] and server.pending_updates == []
    methods = [method for method, _ in server.calls]
    assert methods[:2] == ["getMe", "deleteWebhook"]
    assert {"sendMessage", "answerCallbackQuery", "editMessageText"} <= set(methods)


async def test_limits_are_recorded_as_violations_and_answered_400(server: FakeBotAPI) -> None:
    ann = server.user(1001)
    async with Bot(server.token, base_url=server.base_url) as bot:
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(ann.chat_id, "x" * 4097)
        # 2100 emoji are 2100 characters but 4200 UTF-16 code units: too long for Telegram.
        emoji = "\U0001f600" * 2100
        assert utf16_len(emoji) == 4200
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(ann.chat_id, emoji)
        await bot.send_message(ann.chat_id, "x" * 4096)  # exactly at the limit is fine
        with pytest.raises(BadRequest, match="Message text is empty"):
            await bot.send_message(ann.chat_id, "   ")
        too_much = InlineKeyboardMarkup([[InlineKeyboardButton("é", callback_data="é" * 33)]])  # 66 bytes
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.send_message(ann.chat_id, "pick", reply_markup=too_much)
        for bad_html in ("<b>unclosed", "<b><i>x</b></i>", "1 < 2", "Tom & Jerry", "<div>x</div>"):
            with pytest.raises(BadRequest, match="Can't parse entities"):
                await bot.send_message(ann.chat_id, bad_html, parse_mode=ParseMode.HTML)
        await bot.send_message(
            ann.chat_id, "1 &lt; 2 &amp; <a href='https://x.org/?a=1&amp;b=2'>ok</a>", parse_mode="HTML"
        )

        # answerCallbackQuery text limit (200 characters), on a real query.
        await bot.send_message(
            ann.chat_id, "tap", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
        )
        await ann.tap("Go")
        [update] = await bot.get_updates(timeout=0)
        assert update.callback_query is not None and update.callback_query.data == "go"
        with pytest.raises(BadRequest):
            await bot.answer_callback_query(update.callback_query.id, text="t" * 201)
        assert ann.toasts == []

    rules = [v.rule for v in server.violations]
    assert rules == ["text_too_long", "text_too_long", "text_empty", "callback_data_too_long"] + [
        "html_parse_error"
    ] * 5 + ["callback_answer_too_long"], [str(v) for v in server.violations]
    assert all(v.chat_id == ann.chat_id for v in server.violations)
    html_errors = [v.description for v in server.violations if v.rule == "html_parse_error"]
    assert html_errors[0] == "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\""
    assert 'Unsupported start tag "div"' in html_errors[4]
    assert [m.text for m in ann.messages][1] == "1 < 2 & ok"  # only accepted messages exist


async def test_message_not_modified_and_unknown_message(server: FakeBotAPI) -> None:
    ann = server.user(1001)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    async with Bot(server.token, base_url=server.base_url) as bot:
        sent = await bot.send_message(ann.chat_id, "<i>same</i>", parse_mode="HTML", reply_markup=markup)
        assert sent.text == "same" and sent.from_user is not None and sent.from_user.username == "lensbot_test_bot"
        assert sent.reply_markup == markup
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text(
                "<i>same</i>", ann.chat_id, sent.message_id, parse_mode="HTML", reply_markup=markup
            )
        # Same text but a different keyboard (here: none) is a modification.
        edited = await bot.edit_message_text("<i>same</i>", ann.chat_id, sent.message_id, parse_mode="HTML")
        assert isinstance(edited, type(sent)) and edited.edit_date is not None and edited.reply_markup is None
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_reply_markup(ann.chat_id, sent.message_id)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("new", ann.chat_id, 999)
        assert await bot.delete_message(ann.chat_id, sent.message_id)
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await bot.delete_message(ann.chat_id, sent.message_id)
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(424242, "nobody")

    assert server.errors[0].description.startswith("Bad Request: message is not modified: specified new")
    assert server.violations == []  # these are errors, not broken limits
    assert ann.messages[0].deleted and ann.last_message is None


async def test_429_fault_is_answered_and_retried_by_ptb(server: FakeBotAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns about RetryAfter.retry_after becoming a timedelta unless one opts in.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    ann = server.user(1001)
    server.fail_next("sendMessage", "429", retry_after=0.2)
    app = build_app(server, rate_limiter=AIORateLimiter(max_retries=2))
    async with running(app):
        replies = await ann.send_and_wait("/start")
        assert [m.text for m in replies] == ["Hello Ann, ready?"], ann.transcript()
    assert server.faults_injected == [("sendMessage", "429")]
    assert len(server.calls_to("sendMessage")) == 2  # the 429 and the successful retry
    assert len(ann.messages) == 1 and server.violations == []

    # Without a rate limiter PTB surfaces Telegram's answer as RetryAfter.
    server.fail_next("sendMessage", "429", retry_after=3)
    async with Bot(server.token, base_url=server.base_url) as bot:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(ann.chat_id, "hi")
    assert caught.value.retry_after == dt.timedelta(seconds=3)


async def test_fault_plan_is_deterministic_and_spares_get_updates(server: FakeBotAPI) -> None:
    url = f"{server.base_url}{server.token}"

    async def run(seed: int) -> list[int]:
        server.faults = FaultPlan(rate=0.5, kinds=("429", "500"), retry_after=1, seed=seed)
        statuses = []
        async with aiohttp.ClientSession() as http:
            for _ in range(12):
                async with http.post(f"{url}/getMe") as response:
                    statuses.append(response.status)
                    body = await response.json()
                    if response.status == 429:
                        assert body == {
                            "ok": False,
                            "error_code": 429,
                            "description": "Too Many Requests: retry after 1",
                            "parameters": {"retry_after": 1},
                        }
                    elif response.status == 500:
                        assert body == {"ok": False, "error_code": 500, "description": "Internal Server Error"}
            async with http.post(f"{url}/getUpdates", data={"timeout": "0"}) as response:
                assert response.status == 200  # excluded from faults by default
        return statuses

    first, second = await run(1), await run(1)
    assert first == second and {429, 500} <= set(first) and 200 in first


async def test_group_chat_updates(server: FakeBotAPI) -> None:
    bob = server.group(-100555, 2002, title="Team", first_name="Bob")
    app = build_app(server)
    async with running(app):
        replies = await bob.send_and_wait("/start@lensbot_test_bot")
        assert [m.text for m in replies] == ["Hello Bob, ready?"], bob.transcript()
    assert app.bot_data["seen"] == [(1, "group")]
    assert bob.chat_id == -100555 and bob.last_message is not None
    assert bob.last_message.chat == {"id": -100555, "type": "group", "title": "Team"}
    assert bob.transcript().startswith("> Bob@Team: /start@lensbot_test_bot\n< bot #2: Hello Bob, ready?")


async def test_injected_and_redelivered_updates(server: FakeBotAPI) -> None:
    ann = server.user(1001)
    app = build_app(server)
    async with running(app):
        first = await ann.send_and_wait("/start")
        await server.wait_for(lambda: 1 in server.updates_confirmed, message="offset confirmation")
        server.redeliver(1)  # same update id again, although already confirmed
        await server.wait_for(lambda: len(app.bot_data["seen"]) == 2, message="redelivered /start")
        sticker = server.inject_update(
            {
                "message": {
                    "message_id": 50,
                    "date": int(time.time()),
                    "chat": ann.chat,
                    "from": ann.profile,
                    "sticker": {
                        "file_id": "S1",
                        "file_unique_id": "U1",
                        "type": "regular",
                        "width": 512,
                        "height": 512,
                        "is_animated": False,
                        "is_video": False,
                    },
                }
            }
        )
        edited = await ann.edit(1, "/start edited")  # CommandHandler also handles edited commands
        await server.wait_for(lambda: len(app.bot_data["seen"]) == 4, message="sticker and edit handled")
    assert [m.text for m in first] == ["Hello Ann, ready?"]
    assert app.bot_data["seen"] == [(1, "private"), (1, "private"), (sticker, "other"), (edited, "private")]
    assert server.updates_delivered.count(1) == 2


async def test_uploads_commands_and_raw_http(server: FakeBotAPI) -> None:
    ann = server.user(1001)
    async with Bot(server.token, base_url=server.base_url, base_file_url=server.base_file_url) as bot:
        doc = await bot.send_document(
            ann.chat_id, io.BytesIO(b"x" * 1234), filename="report.pdf", caption="Your report"
        )
        assert doc.document is not None and doc.document.file_name == "report.pdf" and doc.caption == "Your report"
        await bot.send_photo(ann.chat_id, io.BytesIO(b"\xff\xd8jpeg"), caption="<b>look</b>", parse_mode="HTML")
        await bot.send_chat_action(ann.chat_id, "typing")
        from telegram import BotCommand, BotCommandScopeAllPrivateChats

        await bot.set_my_commands([BotCommand("start", "Begin")], language_code="nl")
        await bot.set_my_commands([BotCommand("help", "Help")], scope=BotCommandScopeAllPrivateChats())
        assert [c.command for c in await bot.get_my_commands(language_code="nl")] == ["start"]
        assert await bot.get_my_commands() == ()
        # A user document can be downloaded by the bot through getFile and the file URL.
        ann.send_document(b"hello", "notes.txt", caption="mine")
        [update] = await bot.get_updates(timeout=0)
        assert update.message is not None and update.message.document is not None
        tg_file = await update.message.document.get_file()
        assert bytes(await tg_file.download_as_bytearray()) == b"hello"
    assert [(u.field, u.filename, u.size) for u in server.uploads] == [
        ("document", "report.pdf", 1234),
        ("photo", "application.octet-stream", 6),  # PTB's name for an anonymous BytesIO
    ]
    assert [(m.kind, m.text) for m in ann.messages] == [("document", "Your report"), ("photo", "look")]
    assert server.chat_actions == [(1001, "typing")]
    assert server.commands_for("all_private_chats") == [{"command": "help", "description": "Help"}]

    url = f"{server.base_url}{server.token}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.base_url}123:wrong/getMe") as response:
            assert response.status == 401
            assert await response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with http.post(f"{url}/sendSticker", json={"chat_id": 1001}) as response:
            assert response.status == 404
            assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with http.get(f"{server.base_file_url}{server.token}/nope.bin") as response:
            assert response.status == 404
        # JSON bodies work as well as PTB's form encoding.
        async with http.post(f"{url}/sendMessage", json={"chat_id": 1001, "text": "json"}) as response:
            assert (await response.json())["result"]["text"] == "json"
        # Long polling: returns empty after the timeout, immediately when an update arrives.
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with http.post(f"{url}/getUpdates", data={"offset": "2", "timeout": "0.2"}) as response:
            assert (await response.json())["result"] == []
        assert 0.15 <= loop.time() - started < 1.0
        poll = asyncio.ensure_future(http.post(f"{url}/getUpdates", data={"offset": "2", "timeout": "5"}))
        await asyncio.sleep(0.05)
        ann.send("ping")
        async with await poll as response:
            result = (await response.json())["result"]
        assert [u["message"]["text"] for u in result] == ["ping"] and loop.time() - started < 2
    assert server.unknown_methods == ["sendSticker"] and server.unauthorized_calls == ["getMe"]


async def test_post_webhook_sends_the_secret_header(server: FakeBotAPI) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), json.loads(await request.read())))
        return web.Response(status=200 if received[-1][0] == "s3cret" else 403)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        ann = server.user(1001)
        update = {"message": {"message_id": 1, "date": 0, "chat": ann.chat, "from": ann.profile, "text": "hi"}}
        assert await server.post_webhook(url, update, secret_token="s3cret") == 200
        assert await server.post_webhook(url, update) == 403
    finally:
        await runner.cleanup()
    assert received[0][0] == "s3cret" and received[1][0] is None
    assert received[0][1]["message"]["text"] == "hi" and received[0][1]["update_id"] != received[1][1]["update_id"]


def test_html_parser_matches_telegram() -> None:
    assert parse_html("<b>bold <i>both</i></b> &lt;tag&gt; &#128512;") == (
        "bold both <tag> \U0001f600",
        [{"offset": 0, "length": 9, "type": "bold"}, {"offset": 5, "length": 4, "type": "italic"}],
    )
    assert parse_html('<pre><code class="language-py">x</code></pre><tg-spoiler>s</tg-spoiler>')[1] == [
        {"offset": 0, "length": 1, "type": "pre", "language": "py"},
        {"offset": 1, "length": 1, "type": "spoiler"},
    ]
    assert parse_html("AT&T", strict_ampersand=False) == ("AT&T", [])


async def test_get_updates_offset_limit_allowed_updates_and_slow_faults(server: FakeBotAPI) -> None:
    ann = server.user(1001)
    url = f"{server.base_url}{server.token}/getUpdates"
    for text in ("one", "two", "three"):
        ann.send(text)
    server.inject_update({"message_reaction": {"chat": ann.chat, "message_id": 1, "date": 0}})  # opt-in type

    async def get(**params: Any) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as http, http.post(url, json=params) as response:
            return (await response.json())["result"]

    assert [u["update_id"] for u in await get(limit=2)] == [1, 2]
    assert [u["update_id"] for u in await get(limit=2)] == [1, 2]  # unconfirmed updates come again
    assert [u["update_id"] for u in await get(offset=2)] == [2, 3]  # message_reaction is not delivered
    assert server.updates_confirmed == [1] and server.updates_filtered == [4]
    ann.tap_data("forged", message_id=77)
    assert [list(u)[1] for u in await get(offset=4, allowed_updates=["callback_query"])] == ["callback_query"]
    ann.send("four")  # a message, while only callback queries are allowed now
    assert await get(offset=6, timeout=0) == []
    assert server.pending_updates == []

    server.faults = FaultPlan(rate=0.0, delay=0.1, methods=["getMe"])
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with aiohttp.ClientSession() as http, http.get(f"{server.base_url}{server.token}/getMe") as response:
        assert (await response.json())["result"]["username"] == "lensbot_test_bot"
    assert loop.time() - started >= 0.1
