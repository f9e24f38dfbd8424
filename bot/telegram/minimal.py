"""Telegram's minimal mode (LENSBOT_TELEGRAM_CONTENT=minimal): a link into the web app instead of content.

Telegram still asks the questions and takes the answers and notes; summaries, the lens picture,
the PDF, the export and the local picture's chart are shown in the web app only. Where the chat
would show them, it sends one short message with a single-use link that holds for a few minutes.
The rules (what is content, who gets a link, what the link does) are the door's
(dialogs/app/links.py); acute-danger advice is never withheld.
"""

from __future__ import annotations

from telegram import LinkPreviewOptions, Message

from bot.telegram.guard import Ctx
from dialogs.app import REAL_MODES, BadInput, Block, Reply
from dialogs.app.links import content_free

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)   # no preview fetch: it would be a visit the user did not make


def on(ctx: Ctx) -> bool:
    """Whether this bot keeps content out of Telegram."""
    return bool(ctx.rt.door.links.minimal)


def shown_blocks(ctx: Ctx, reply: Reply) -> tuple[tuple[Block, ...], bool]:
    """The blocks of a reply to show here, and whether a result was withheld (then the link follows).
    Practice cases are made-up vignettes: their feedback stays in the chat."""
    if not on(ctx) or reply.mode not in REAL_MODES:
        return reply.blocks, False
    return content_free(reply.blocks)


async def send_link(ctx: Ctx, key: str, target: str = "case", code: str | None = None) -> tuple[bool, Message | None]:
    """The message with a link to `target` (with `code`: the user's own case); (False, None) when the
    case is not theirs, so the caller says "not found" as for any unknown code."""
    assert ctx.user is not None
    links = ctx.rt.door.links
    if code is not None:
        code = ctx.rt.door.cases.normalise_code(code)
    try:
        url = await ctx.rt.db(links.make, ctx.user, target, code)
    except BadInput as exc:   # no role in the web app (an admin named only in LENSBOT_ADMIN_IDS)
        return True, await ctx.send(links.text(str(exc), ctx.lang))
    if url is None:
        return False, None
    text = ctx.t(key, code=code or "", link=url, minutes=links.minutes)
    return True, await ctx.send(text, link_preview_options=NO_PREVIEW)
