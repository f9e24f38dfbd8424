"""A user's own cases in the browser: the start page, the question page, answers, the summary
with its files, deletion, and training.

Each answer is a POST with the case code (in the path) and the step the page showed (a hidden
field), handed to the door exactly like a Telegram tap (`door.cases.choose` / `note`): the door
refuses a double submit, a stale tab, the back button's old page or a replayed form, and the
user gets a short notice with the current question. Browsers with JavaScript (htmx) get the
new question in the POST's response; without it the POST redirects to the case page (PRG).
A case code that is not the user's gets the same "not found" as one that does not exist.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from bot.web.guard import Ctx, page
from bot.web.render import blocks_parts, prompt_parts
from dialogs.app import CASE_FORMAT_NAMES, Action, Block, Flashed, Mode, Reply

MAX_CODE = 12
STARTS = {"full": Mode.FULL, "quick": Mode.QUICK, "training": Mode.TRAINING}
DOWNLOADS = ("pdf", "csv", "png")


# -- start page -----------------------------------------------------------------------------
@page()
async def start_page(ctx: Ctx) -> Response:
    access, cases = ctx.rt.door.access, ctx.rt.door.cases
    user = ctx.user
    ways = [m for m, action in (("full", Action.INTAKE), ("quick", Action.INTAKE), ("training", Action.TRAINING))
            if access.may(user, action)]
    listed = await ctx.rt.db(cases.list, user) if access.may(user, Action.CASES) else []
    open_cases = await ctx.rt.db(cases.resume_choices, user)
    ages = await ctx.rt.db(cases.age_options, ctx.lang) if "quick" in ways else ()
    login = await ctx.rt.db(ctx.rt.door.accounts.login_name, user)
    return ctx.page("start.html", ways=ways, cases=listed, open_cases=open_cases, ages=ages,
                    role=ctx.t(f"role.{user.role}"), login=login, trainer=access.may(user, Action.TRAINEES))


@page()
async def start_case(ctx: Ctx) -> Response:
    """Nieuwe intake, Snelle scan (optionally with the age chosen on the start page) or Oefenen."""
    mode = STARTS.get(ctx.field("mode") or "")
    cases = ctx.rt.door.cases
    if mode is None:
        return ctx.redirect("/")
    if mode == Mode.TRAINING:
        reply = await ctx.rt.db(cases.practise, ctx.user, ctx.lang, None, cases.round_length(ctx.field("round")))
    else:
        reply = await ctx.rt.db(cases.start, ctx.user, ctx.lang, mode)
        age = ctx.field("age")
        if not reply.refused and age and reply.prompt and any(o.id == age for o in reply.prompt.options):
            first = reply
            reply = await ctx.rt.db(cases.choose, ctx.user, reply.case_code, age, reply.step, ctx.lang)
            reply = Reply(reply.case_code, reply.step, first.blocks + reply.blocks, reply.prompt, reply.finished,
                          reply.toast, reply.refused, mode=reply.mode)
    if reply.refused or not reply.case_code:
        return ctx.redirect("/")
    return await after_post(ctx, reply)


# -- what an answer showed, for the page after the redirect ------------------------------------
async def keep(ctx: Ctx, code: str, step: int | None, blocks: tuple[Block, ...], notice: str | None) -> None:
    """Leave an answer's blocks for the next page of the case, in the session (the door keeps it
    in the database: the redirected GET may reach another instance)."""
    await ctx.rt.db(ctx.rt.door.accounts.flash, ctx.visit.token or "", Flashed(code, step, blocks, notice))


async def taken(ctx: Ctx, code: str, step: int | None = None) -> Flashed | None:
    """What the last answer left for this page (once); no database call when nothing waits."""
    if not ctx.session.has_flash or not ctx.visit.token:
        return None
    return await ctx.rt.db(ctx.rt.door.accounts.take_flash, ctx.visit.token, code, step)


# -- the question page ------------------------------------------------------------------------
def _code(ctx: Ctx) -> str:
    return ctx.rt.door.cases.normalise_code(ctx.path_param("code")[:MAX_CODE])


def not_found(ctx: Ctx, code: str) -> Response:
    return ctx.message("case.not_found_title", ctx.rt.door.cases.not_found(code, ctx.lang), 404)


@page()
async def case_page(ctx: Ctx) -> Response:
    code = _code(ctx)
    reply = await ctx.rt.db(ctx.rt.door.cases.resume, ctx.user, code, ctx.lang)
    if reply.refused:
        return not_found(ctx, code)
    flashed = await taken(ctx, reply.case_code, reply.step)
    if reply.prompt is None:   # finished
        if reply.mode != Mode.TRAINING:
            return ctx.redirect(f"/case/{reply.case_code}/summary")
        return await finished_training(ctx, reply, flashed)
    blocks = flashed.blocks if flashed else ()
    return question(ctx, reply, blocks, flashed.notice if flashed else None)


def question(ctx: Ctx, reply: Reply, blocks: tuple[Block, ...], notice: str | None, status: int = 200) -> Response:
    assert reply.prompt is not None
    template = "_question.html" if ctx.htmx else "question.html"
    return ctx.page(template, status=status, code=reply.case_code, step=reply.step, notice=notice,
                    blocks=blocks_parts(blocks), prompt=prompt_parts(reply.prompt), mode=reply.mode)


async def finished_training(ctx: Ctx, reply: Reply, flashed: Flashed | None) -> Response:
    """A practice case that is done: its feedback (or, later, the whole training record)."""
    blocks = flashed.blocks if flashed else tuple(await ctx.rt.db(ctx.rt.door.cases.progress, ctx.user, ctx.lang))
    return ctx.page("finished.html", code=reply.case_code, blocks=blocks_parts(blocks))


@page(parkable=True)
async def answer(ctx: Ctx) -> Response:
    code = _code(ctx)
    reply = await apply_answer(ctx, code, ctx.field("option"), ctx.field("step"), ctx.field("text"))
    return await show_reply(ctx, code, reply)


async def apply_answer(ctx: Ctx, code: str, option: str | None, step_field: str | None, text: str | None) -> Reply:
    """One answer, as a Telegram tap: the option (or the typed note) at the step the page showed."""
    cases = ctx.rt.door.cases
    step = int(step_field) if step_field is not None and step_field.isdigit() and len(step_field) < 10 else -1
    if option == "note":
        return await ctx.rt.db(cases.note, ctx.user, code, text or "", step, ctx.lang)
    return await ctx.rt.db(cases.choose, ctx.user, code, option or "", step, ctx.lang)


async def show_reply(ctx: Ctx, code: str, reply: Reply) -> Response:
    """The page after an answer: refused ones show a notice with the current question."""
    if reply.refused or reply.duplicate:
        current = await ctx.rt.db(ctx.rt.door.cases.resume, ctx.user, code, ctx.lang)
        if current.refused:
            return not_found(ctx, code)
        notice = reply.toast or None
        if ctx.htmx and current.prompt is not None:
            return question(ctx, current, (), notice)
        await keep(ctx, current.case_code, current.step, (), notice)
        return ctx.redirect(f"/case/{current.case_code}#question")
    return await after_post(ctx, reply)


async def after_post(ctx: Ctx, reply: Reply) -> Response:
    """A reply that changed the case: the next question (htmx) or a redirect to it (PRG)."""
    code = reply.case_code
    if reply.finished and reply.mode != Mode.TRAINING:
        notices = tuple(b for b in reply.blocks if b.kind == "notice")
        await keep(ctx, code, None, notices, None)
        return ctx.redirect(f"/case/{code}/summary")
    if ctx.htmx and reply.prompt is not None:
        return question(ctx, reply, reply.blocks, None)
    if ctx.htmx and reply.finished:   # practice: the feedback in place of the question
        return ctx.page("finished.html", code=code, blocks=blocks_parts(reply.blocks))
    await keep(ctx, code, reply.step, reply.blocks, None)
    return ctx.redirect(f"/case/{code}#question")


# -- summary, files, delete -------------------------------------------------------------------
@page()
async def summary(ctx: Ctx) -> Response:
    code = _code(ctx)
    blocks = await ctx.rt.db(ctx.rt.door.cases.summary, ctx.user, code, ctx.lang)
    if blocks is None:
        return not_found(ctx, code)
    shown = ctx.rt.door.cases.normalise_code(code)
    flashed = await taken(ctx, shown)
    news = await ctx.rt.db(ctx.rt.door.sharing.news, ctx.user, shown, ctx.lang)   # colleagues' contributions
    notices = blocks_parts([*(flashed.blocks if flashed else ()), *news])
    return ctx.page("summary.html", code=shown, blocks=blocks_parts(blocks), notices=notices,
                    downloads=DOWNLOADS)


@page()
async def case_file(ctx: Ctx) -> Response:
    """A report of the case (png inline for the summary page; pdf, csv, json as downloads)."""
    code, fmt = _code(ctx), ctx.path_param("fmt")
    if fmt not in CASE_FORMAT_NAMES:
        return not_found(ctx, code)
    file = await ctx.rt.render(ctx.rt.door.reports.case, ctx.user, code, fmt, ctx.lang)
    if file is None:
        return not_found(ctx, code)
    disposition = "inline" if file.picture and ctx.request.query_params.get("download") is None else "attachment"
    return Response(file.data, media_type=file.mime,
                    headers={"content-disposition": f'{disposition}; filename="{file.name}"'})


@page()
async def delete_page(ctx: Ctx) -> Response:
    code = _code(ctx)
    shown = await ctx.rt.db(ctx.rt.door.cases.deletable, ctx.user, code)
    if shown is None:
        return not_found(ctx, code)
    return ctx.page("delete.html", code=shown)


@page()
async def delete_case(ctx: Ctx) -> Response:
    code = _code(ctx)
    erased = await ctx.rt.db(ctx.rt.door.cases.delete, ctx.user, code)
    if erased is None:
        return not_found(ctx, code)
    return ctx.page("message.html", title=ctx.t("delete.done", code=erased.code), text="")


# -- training -----------------------------------------------------------------------------------
@page(action=Action.TRAINING)
async def progress(ctx: Ctx) -> Response:
    blocks = await ctx.rt.db(ctx.rt.door.cases.progress, ctx.user, ctx.lang)
    chart = await ctx.rt.db(ctx.rt.door.cases.has_progress, ctx.user)
    return ctx.page("progress.html", blocks=blocks_parts(blocks), chart=chart)


routes = [
    Route("/", start_page),
    Route("/start", start_case, methods=["POST"]),
    Route("/case/{code}", case_page),
    Route("/case/{code}/answer", answer, methods=["POST"]),
    Route("/case/{code}/summary", summary),
    Route("/case/{code}/file/{fmt}", case_file),
    Route("/case/{code}/delete", delete_page),
    Route("/case/{code}/delete", delete_case, methods=["POST"]),
    Route("/training/progress", progress),
]
