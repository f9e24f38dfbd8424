"""Training pages beyond the practice round itself (issue 14): the progress chart, and a trainer's
view of their group with its CSV and a trainee invitation. Adapters on dialogs.app: the door
confirms the role as stored now and audits every look at a group."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from bot.web.guard import Ctx, page
from bot.web.render import blocks_parts
from dialogs.app import Action


@page(action=Action.TRAINING)
async def progress_chart(ctx: Ctx) -> Response:
    png = await ctx.rt.db(ctx.rt.door.cases.progress_chart, ctx.user, ctx.lang)
    return Response(png, media_type="image/png", headers={"cache-control": "no-store"})


async def _group_page(ctx: Ctx, created: object = None) -> Response:
    blocks = await ctx.rt.db(ctx.rt.door.training.group, ctx.user, ctx.lang)
    link = f"{ctx.rt.settings.web_base_url}/invite/{created.code}" if created else None  # type: ignore[attr-defined]
    return ctx.page("training_group.html", blocks=blocks_parts(blocks), created=created, link=link)


@page(action=Action.TRAINEES)
async def group(ctx: Ctx) -> Response:
    return await _group_page(ctx)


@page(action=Action.TRAINEES)
async def group_csv(ctx: Ctx) -> Response:
    file = await ctx.rt.db(ctx.rt.door.training.group_csv, ctx.user)
    return Response(file.data, media_type=file.mime,
                    headers={"content-disposition": f'attachment; filename="{file.name}"'})


@page(action=Action.TRAINEES)
async def group_invite(ctx: Ctx) -> Response:
    created = await ctx.rt.db(ctx.rt.door.training.invite, ctx.user)
    return await _group_page(ctx, created=created)


routes = [
    Route("/training/progress.png", progress_chart),
    Route("/training/group", group),
    Route("/training/group.csv", group_csv),
    Route("/training/group/invite", group_invite, methods=["POST"]),
]
