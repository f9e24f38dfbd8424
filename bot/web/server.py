"""`lensbot web`: the web app under uvicorn, on one socket bound before anything is printed.

Standard output gets two kinds of lines a person (or a test) reads: on an empty database the
one-time setup link for the first admin, and "lensbot web: listening on http://HOST:PORT" once
requests are accepted. Uvicorn's access log is off (request paths hold case codes, and nobody
needs a line per answer); forwarded headers (X-Forwarded-For/-Proto) are honoured only from
LENSBOT_WEB_TRUSTED_PROXIES.
"""

from __future__ import annotations

import socket
import sys

import uvicorn

from bot.web.app import create_app
from dialogs.app import Door, Settings

CHANNEL = "web"


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (port 0: any free port; the settings then learn the real one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given explicitly: asyncio sets TCP_NODELAY only on sockets that say IPPROTO_TCP, and
    # without it every response waited ~40 ms for a delayed ACK (measured: 47 ms -> 2 ms a page)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _local(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


class _Server(uvicorn.Server):
    """Says when it listens, and prints the setup link then (when there is one)."""

    def __init__(self, config: uvicorn.Config, lines: list[str]) -> None:
        super().__init__(config)
        self.lines = lines

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            for line in self.lines:
                print(line, flush=True)


def run(settings: Settings, host: str, port: int) -> None:
    sock = bind(host, port)
    real_port = sock.getsockname()[1]
    if real_port != settings.web_port or host != settings.web_host:
        settings = settings.model_copy(update={"web_host": host, "web_port": real_port})
    door = Door(settings, CHANNEL)
    door.service   # noqa: B018 - the lens first (a broken one stops here), then the database (SQLite: migrated)
    lines = []
    code = door.accounts.setup_code()
    if code is not None:
        lines.append(f"lensbot web: no users yet. Open this link within one hour to create the first admin "
                     f"(it works once): {settings.web_base_url}/invite/{code}")
    shown_host = f"[{host}]" if ":" in host else host
    lines.append(f"lensbot web: listening on http://{shown_host}:{real_port}")
    if not _local(host) and not settings.web_base_url.startswith("https://"):
        print("lensbot web: note: browsers keep the login cookie (Secure) only over HTTPS or on this machine "
              "(127.0.0.1, localhost): put a TLS proxy in front and set LENSBOT_WEB_URL=https://...",
              file=sys.stderr, flush=True)
    trusted = settings.web_trusted_proxies.strip()
    config = uvicorn.Config(create_app(door), proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None,
                            access_log=False, log_level="warning", server_header=False, lifespan="off")
    try:
        _Server(config, lines).run(sockets=[sock])
    finally:
        door.close()
        sys.stdout.flush()
