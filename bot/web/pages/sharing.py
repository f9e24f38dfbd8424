"""A shared case in the browser (issue 13): thin routes over dialogs/app/sharing.py.

The owner: `/case/{code}/share` (one form: questions, purpose, legal basis, whether the person
knows, validity, combined picture) shows the single-use links; `/case/{code}/requests` lists the
requests with their status (a contribution that arrived shows there) and withdraws one;
`/case/{code}/amend` adds to a completed case (question by question, or a note).
The colleague: `/share/{token}` claims the request (signed in; the login leads back here) and goes
straight to `/contribute/{id}`, so the token does not stay in the address bar or the history;
`/contributions` lists what they contributed. Every rule is the door's; these only map forms to
use cases and replies to templates.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from bot.web.guard import Ctx, page
from bot.web.render import blocks_parts, prompt_parts
from dialogs.app import Action, BadInput, Reply

MAX_CODE = 12


def _code(ctx: Ctx) -> str:
    return ctx.rt.door.cases.normalise_code(ctx.path_param("code")[:MAX_CODE])


def _request_id(ctx: Ctx) -> int:
    raw = ctx.path_param("rid")
    return int(raw) if raw.isdigit() and len(raw) < 10 else 0


def _not_found(ctx: Ctx, code: str) -> Response:
    return ctx.message("case.not_found_title", ctx.rt.door.cases.not_found(code, ctx.lang), 404)


# -- the owner ---------------------------------------------------------------------------------------
@page(action=Action.CASES)
async def share_form(ctx: Ctx) -> Response:
    code = _code(ctx)
    form = await ctx.rt.db(ctx.rt.door.sharing.form, ctx.user, code, ctx.lang)
    if form is None:
        return _not_found(ctx, code)
    return ctx.page("share_form.html", form=form, error=None)


@page(action=Action.CASES)
async def share_create(ctx: Ctx) -> Response:
    code = _code(ctx)
    sharing = ctx.rt.door.sharing
    form = await ctx.rt.db(sharing.form, ctx.user, code, ctx.lang)
    if form is None:
        return _not_found(ctx, code)
    areas = [a for a, _ in form.areas if ctx.field(f"area_{a}") == "on"]
    informed = ctx.field("informed") == "yes"
    days = ctx.field("days") or ""
    try:
        created = await ctx.rt.db(sharing.create, ctx.user, code, areas, ctx.field("purpose") or "",
                                  ctx.field("basis") or "", informed, ctx.field("reason"),
                                  int(days) if days.isdigit() and len(days) < 4 else 0,
                                  ctx.field("combined") == "on")
    except BadInput:
        return ctx.page("share_form.html", status=400, form=form, error=ctx.t("sharing.form_error"))
    if created is None:
        return _not_found(ctx, code)
    return ctx.page("share_created.html", created=created, telegram_start=created.token)


@page(action=Action.CASES)
async def requests_page(ctx: Ctx) -> Response:
    code = _code(ctx)
    found = await ctx.rt.db(ctx.rt.door.sharing.requests, ctx.user, code, ctx.lang)
    if found is None:
        return _not_found(ctx, code)
    return ctx.page("share_requests.html", code=code, requests=found, notice=None)


@page(action=Action.CASES)
async def revoke(ctx: Ctx) -> Response:
    code = _code(ctx)
    await ctx.rt.db(ctx.rt.door.sharing.revoke, ctx.user, code, _request_id(ctx))
    return ctx.redirect(f"/case/{code}/requests")


@page(action=Action.CASES)
async def amend_page(ctx: Ctx) -> Response:
    code = _code(ctx)
    reply = await ctx.rt.db(ctx.rt.door.sharing.amend_start, ctx.user, code, ctx.lang)
    return _amend_reply(ctx, code, reply)


@page(action=Action.CASES)
async def amend_post(ctx: Ctx) -> Response:
    code = _code(ctx)
    sharing = ctx.rt.door.sharing
    if ctx.field("option") == "note":
        reply = await ctx.rt.db(sharing.add_note, ctx.user, code, ctx.field("text") or "", ctx.lang)
        if not reply.refused:
            return ctx.redirect(f"/case/{code}/summary")
        current = await ctx.rt.db(sharing.amend_start, ctx.user, code, ctx.lang)
        return _amend_reply(ctx, code, current, reply.toast, status=400)
    reply = await ctx.rt.db(sharing.amend, ctx.user, code, ctx.field("option") or "", ctx.lang)
    if reply.finished:
        return ctx.redirect(f"/case/{code}/summary")
    if reply.refused:
        current = await ctx.rt.db(sharing.amend_start, ctx.user, code, ctx.lang)
        return _amend_reply(ctx, code, current, reply.toast, status=400)
    return _amend_reply(ctx, code, reply)


def _amend_reply(ctx: Ctx, code: str, reply: Reply, notice: str | None = None, status: int = 200) -> Response:
    if reply.refused or reply.prompt is None:
        if reply.reason == "refuse.unknown_case":
            return _not_found(ctx, code)
        return ctx.message("sharing.amend_title", reply.toast or "", 400)
    return ctx.page("share_question.html", status=status, action=f"/case/{code}/amend", code=reply.case_code,
                    blocks=blocks_parts(reply.blocks), prompt=prompt_parts(reply.prompt), notice=notice,
                    note=True)


# -- the colleague -----------------------------------------------------------------------------------
@page()
async def join_page(ctx: Ctx) -> Response:
    """A share link opened (signed in): what it is, and a button that claims it. A GET changes
    nothing, so a link preview or a mail filter that fetches the link claims nothing."""
    return ctx.page("share_join.html", token=ctx.path_param("token")[:80])


@page()
async def join(ctx: Ctx) -> Response:
    """Claim the request (the first person) or come back to it; then on to the questions."""
    token = ctx.path_param("token")[:80]
    joined = await ctx.rt.db(ctx.rt.door.sharing.join, "web", ctx.user.external_id, token, ctx.lang)
    if joined.outcome != "ok" or joined.request_id is None:
        return ctx.message("sharing.link_title", joined.message or "", 403 if joined.outcome == "taken" else 404)
    return ctx.redirect(f"/contribute/{joined.request_id}")


@page(action=Action.CONTRIBUTE)
async def contribute_page(ctx: Ctx) -> Response:
    rid = _request_id(ctx)
    reply = await ctx.rt.db(ctx.rt.door.sharing.prompt, ctx.user, rid, ctx.lang)
    return _contribute_reply(ctx, rid, reply)


@page(action=Action.CONTRIBUTE)
async def contribute_post(ctx: Ctx) -> Response:
    rid = _request_id(ctx)
    sharing = ctx.rt.door.sharing
    reply = await ctx.rt.db(sharing.answer, ctx.user, rid, ctx.field("option") or "", ctx.lang)
    if reply.refused and reply.reason and reply.reason.startswith("share.link_"):
        return ctx.message("sharing.link_title", reply.toast or "", 403)
    if reply.refused:
        current = await ctx.rt.db(sharing.prompt, ctx.user, rid, ctx.lang)
        return _contribute_reply(ctx, rid, current, reply.toast, status=400)
    if ctx.field("option") == "combined":
        return _contribute_reply(ctx, rid, reply)
    if ctx.htmx:
        return _contribute_reply(ctx, rid, reply)
    return ctx.redirect(f"/contribute/{rid}#question")


def _contribute_reply(ctx: Ctx, rid: int, reply: Reply, notice: str | None = None, status: int = 200) -> Response:
    if reply.refused:
        return ctx.message("sharing.link_title", reply.toast or "", 403)
    return ctx.page("share_question.html", status=status, action=f"/contribute/{rid}", code=reply.case_code,
                    blocks=blocks_parts(reply.blocks), notice=notice, note=False,
                    prompt=prompt_parts(reply.prompt) if reply.prompt is not None else None)


@page(action=Action.CONTRIBUTE)
async def contributions(ctx: Ctx) -> Response:
    blocks = await ctx.rt.db(ctx.rt.door.sharing.mine, ctx.user, ctx.lang)
    open_ids = await ctx.rt.db(ctx.rt.door.sharing.my_requests, ctx.user)
    return ctx.page("share_mine.html", blocks=blocks_parts(blocks, level=1), open_ids=open_ids)


routes = [
    Route("/case/{code}/share", share_form),
    Route("/case/{code}/share", share_create, methods=["POST"]),
    Route("/case/{code}/requests", requests_page),
    Route("/case/{code}/requests/{rid}/revoke", revoke, methods=["POST"]),
    Route("/case/{code}/amend", amend_page),
    Route("/case/{code}/amend", amend_post, methods=["POST"]),
    Route("/share/{token}", join_page),
    Route("/share/{token}", join, methods=["POST"]),
    Route("/contribute/{rid}", contribute_page),
    Route("/contribute/{rid}", contribute_post, methods=["POST"]),
    Route("/contributions", contributions),
]
