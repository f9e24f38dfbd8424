"""The webhook server: Telegram POSTs each update here.

PTB's own server (`Application.run_webhook`, tornado) buffers a request body up to tornado's
default of 100 MB before it looks at the secret, and compares the secret with `!=`, whose time
depends on how much of it matches. This server checks the secret header first, in constant time
(hmac.compare_digest), before a byte of the body is read, and refuses bodies over MAX_BODY both
from the announced Content-Length and while streaming, so an unauthenticated 90 MB POST never
reaches memory. Updates go into the Application's update queue as with PTB's server; the
Application's life cycle (post_init, start, stop, post_shutdown) is run here the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from collections.abc import Sequence
from http import HTTPStatus

import tornado.web
from telegram import Update
from telegram.ext import Application
from tornado.httpserver import HTTPServer

log = logging.getLogger("lensbot.telegram")
MAX_BODY = 1 << 20   # 1 MB: a Telegram update is a few kB; the largest are far below this
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@tornado.web.stream_request_body
class UpdateHandler(tornado.web.RequestHandler):
    """POST only; the secret is checked before the body is read."""

    SUPPORTED_METHODS = ("POST",)  # type: ignore[assignment]

    def initialize(self, app: Application, secret: str) -> None:
        self.app, self.secret = app, secret.encode()
        self.chunks: list[bytes] = []
        self.size = 0

    def prepare(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, self.secret):
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)
        if self.request.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)
        self.request.connection.set_max_body_size(MAX_BODY)   # type: ignore[union-attr]

    def data_received(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > MAX_BODY:
            raise tornado.web.HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        self.chunks.append(chunk)

    async def post(self) -> None:
        try:
            update = Update.de_json(json.loads(b"".join(self.chunks)), self.app.bot)
        except Exception as exc:   # never log the body: it holds what users typed
            log.warning("webhook body could not be read as an update: %s", type(exc).__name__)
            raise tornado.web.HTTPError(HTTPStatus.BAD_REQUEST) from None
        if update is not None:
            await self.app.update_queue.put(update)
        self.set_status(HTTPStatus.OK)

    def log_exception(self, *args: object) -> None:   # tornado would log the request line and headers
        return None


def make_server(app: Application, path: str, secret: str) -> HTTPServer:
    """The HTTP server for `path` (e.g. "/telegram"); Content-Length over MAX_BODY is refused unread."""
    if not secret:
        raise ValueError("the webhook needs a secret")
    web = tornado.web.Application([(rf"/{path.strip('/')}/?", UpdateHandler, {"app": app, "secret": secret})],
                                  log_function=lambda handler: None)
    return HTTPServer(web, max_body_size=MAX_BODY, max_buffer_size=MAX_BODY + 65536)


async def serve(app: Application, *, listen: str, port: int, path: str, webhook_url: str, secret: str,
                allowed_updates: Sequence[str]) -> None:
    """Run the Application behind the webhook until SIGINT or SIGTERM, as `run_webhook` would."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await app.initialize()
    try:
        if app.post_init:
            await app.post_init(app)
        await app.bot.set_webhook(webhook_url, secret_token=secret, allowed_updates=list(allowed_updates))
        await app.start()
        server = make_server(app, path, secret)
        server.listen(port, address=listen)
        log.info("webhook server listening")
        try:
            await stop.wait()
        finally:
            server.stop()
            await server.close_all_connections()
            if app.running:
                await app.stop()
            if app.post_stop:
                await app.post_stop(app)
    finally:
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)
