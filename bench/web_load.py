"""The web channel under load: p50/p99 from an answer's POST to its response, and answers/s.

`lensbot web` runs as a subprocess on a fresh SQLite file (and, with --postgres URL, on a fresh
PostgreSQL schema), exactly as deployed (uvicorn, one process). N sessions (1, 10, 100) over
loopback (httpx AsyncClient, one connection each): each signs up from an invitation made at the
console, sets up the authenticator, signs out and signs in again with password and TOTP, then
answers full intakes (Begin, an age, "Nee" to everything, no note; at the end the next intake)
as a browser with JavaScript does: every answer one htmx POST whose response is the next
question. Accounts are hashed with LENSBOT_PASSWORD_HASHING=cheapest here (argon2-cffi's cheapest
profile): sign-in costs are bench/login_cost.py's; this measures answering.

Two phases per level, on the same sessions:
- human pace: before each answer a pause, exponential with mean --think s (default 5; a person
  reads, decides, clicks). p50/p99 of POST to response is what a person waits for.
- saturated: no pause. answers/s is what one instance carries (the load generator shares the
  machine's cores with the server: the figure is a lower bound).
Beside them, in the same run: the Telegram channel at the same levels (bench/load.py's
run_level: lensbot's real PTB Application, in-process Bot API), and a floor: a bare Starlette app
that answers a POST with a tiny page, under the same uvicorn setup (bot/web/server.py's socket
and settings), with the same sessions. Then the page weight of the start page, the question page
and the summary page (without the lens picture): the HTML and the static files it loads, as sent
(static files gzipped) and uncompressed. After each level the answer log is counted against the
answers posted: none lost, none twice.

Run: .venv/bin/python bench/web_load.py [--levels 1,10,100] [--think 5] [--interactive 20]
     [--duration 5] [--postgres URL] [--no-telegram]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyotp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from inproc import PgSchema, percentile, print_machine  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from storage.accounts import create_invite  # noqa: E402
from storage.db import normalise_url  # noqa: E402
from storage.repo import Store  # noqa: E402
from tests.support.web import PASSWORD, start_server  # noqa: E402

COOKIE = "__Host-lensbot"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
STEP = re.compile(r'name="step" value="(\d+)"')
OPTION = re.compile(r'name="option" value="([^"]+)"')
SECRET = re.compile(r'<code id="secret" class="secret">([A-Z2-7]+)</code>')
CASE = re.compile(r"/case/([A-Z0-9]+-[A-Z0-9]+)")
ANSWERS = ("yes", "no", "unknown")


def client_limits(n: int) -> httpx.Limits:
    """A connection per session; an idle one is given up after 2 s, before uvicorn closes it
    (its keep-alive timeout is 5 s, httpx's default expiry too: a request racing the server's close
    failed with ReadError). After a pause of more than that, an answer opens a new connection, as a
    browser's would after uvicorn closed it."""
    return httpx.Limits(max_connections=n + 5, max_keepalive_connections=n + 5, keepalive_expiry=2.0)


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    answers: int = 0
    wall: float = 0.0

    def row(self) -> tuple[float, float, float]:
        rate = self.answers / self.wall if self.wall else 0.0
        return rate, percentile(self.latencies, 50) * 1e3, percentile(self.latencies, 99) * 1e3


class Session:
    """One person in a browser with JavaScript: a cookie, the CSRF token, the page shown."""

    def __init__(self, client: httpx.AsyncClient, base: str) -> None:
        self.client, self.base = client, base
        self.token: str | None = None
        self.csrf = ""
        self.text = ""
        self.code = ""
        self.answers = 0

    def _headers(self, htmx: bool) -> dict[str, str]:
        h = {"sec-fetch-site": "same-origin"}
        if self.token:
            h["cookie"] = f"{COOKIE}={self.token}"
        if htmx:
            h["hx-request"] = "true"
        return h

    def _keep(self, r: httpx.Response) -> None:
        for header in r.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name == COOKIE:
                self.token = rest.split(";", 1)[0] or None
        if r.status_code == 200:
            self.text = r.text
            if (m := CSRF.search(r.text)) is not None:
                self.csrf = m.group(1)

    async def get(self, path: str) -> httpx.Response:
        for _ in range(10):
            r = await self.client.get(self.base + path, headers=self._headers(False))
            self._keep(r)
            if r.status_code != 303:
                return r
            path = r.headers["location"]
        raise RuntimeError("redirect loop")

    async def post(self, path: str, data: dict[str, str], htmx: bool = False) -> httpx.Response:
        r = await self.client.post(self.base + path, data={"csrf": self.csrf, **data}, headers=self._headers(htmx))
        self._keep(r)
        if r.status_code == 303:
            return await self.get(r.headers["location"])
        return r

    async def sign_up_and_in(self, invite: str, login: str) -> None:
        await self.get(f"/invite/{invite}")
        await self.post(f"/invite/{invite}", {"login": login, "password": PASSWORD, "password2": PASSWORD})
        m = SECRET.search(self.text)
        assert m is not None, self.text[:500]
        totp = pyotp.TOTP(m.group(1))
        await self.post("/enrol", {"code": totp.now()})
        await self.get("/continue")
        await self.post("/logout", {})
        await self.get("/login")
        await self.post("/login", {"login": login, "password": PASSWORD})
        await self.post("/login/code", {"code": totp.at(int(time.time()) + 30)})   # the next step: unused
        assert "Uitloggen" in self.text, self.text[:500]

    async def start(self) -> None:
        r = await self.post("/start", {"mode": "full"}, htmx=True)
        m = CASE.search(r.text)
        assert m is not None, r.text[:500]
        self.code = m.group(1)

    async def answer(self) -> float:
        """One click: the option a person would take now; seconds from POST to response."""
        options = OPTION.findall(self.text)
        step = STEP.search(self.text)
        if not options or step is None:
            await self.start()
            return 0.0
        choice = next((o for o in ("begin", "no_note", "no") if o in options), None) or \
            next(o for o in options if o.startswith("age_"))
        t0 = time.perf_counter()
        r = await self.client.post(f"{self.base}/case/{self.code}/answer",
                                   data={"csrf": self.csrf, "option": choice, "step": step.group(1)},
                                   headers=self._headers(True))
        took = time.perf_counter() - t0
        self._keep(r)
        if r.status_code == 204:     # the intake is done: the summary (HX-Redirect); the next one
            self.text = ""
        elif r.status_code != 200:
            raise RuntimeError(f"answer refused: {r.status_code}")
        elif "eerdere vraag" in r.text:
            raise RuntimeError("a click counted as stale: the load generator lost track")
        self.answers += choice in ANSWERS or choice.startswith("age_")
        return took


async def run_phase(sessions: list[Session], seconds: float, think: float, seed: int) -> Phase:
    phase = Phase()
    t0 = time.perf_counter()
    until = t0 + seconds
    last = [t0]

    async def person(s: Session, rng: random.Random) -> None:
        while True:
            if think:
                await asyncio.sleep(min(rng.expovariate(1 / think), max(0.0, until - time.perf_counter())))
            if time.perf_counter() >= until:
                return
            before = s.answers
            took = await s.answer()
            if took:
                phase.latencies.append(took)
                phase.answers += s.answers - before
                last[0] = max(last[0], time.perf_counter())

    rng = random.Random(seed)
    await asyncio.gather(*(person(s, random.Random(rng.random())) for s in sessions))
    phase.wall = last[0] - t0
    return phase


def answers_logged(url: str) -> int:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM answer_log")).scalar_one())
    finally:
        engine.dispose()


async def web_level(url: str, n: int, args: argparse.Namespace, tmp: Path) -> dict[str, Phase]:
    store = Store(url)
    store.upgrade()
    invites = [create_invite(store, "professional", actor="console:bench").code for _ in range(n)]
    store.dispose()
    server = start_server(tmp, LENSBOT_DATABASE_URL=url)
    try:
        limits = client_limits(n)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            sessions = [Session(client, server.base) for _ in range(n)]
            await asyncio.gather(*(s.sign_up_and_in(code, f"bench{i}") for i, (s, code)
                                   in enumerate(zip(sessions, invites, strict=True))))
            await asyncio.gather(*(s.start() for s in sessions))
            phases = {"human": await run_phase(sessions, args.interactive, args.think, n),
                      "saturated": await run_phase(sessions, args.duration, 0.0, n + 1)}
            posted = sum(s.answers for s in sessions)
    finally:
        server.stop()
    logged = answers_logged(url)
    if logged != posted:
        raise SystemExit(f"web: {logged} answers in the answer log for {posted} answers posted")
    return phases


# -- the floor: a bare Starlette app under the same uvicorn setup -----------------------------------
def serve_floor() -> None:
    """Run by the bench as a subprocess: POST -> a tiny page, on bot/web/server.py's socket and settings."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from bot.web.server import bind

    async def answer(request: Request) -> HTMLResponse:
        form = await request.form()
        return HTMLResponse(f'<main><input type="hidden" name="step" value="{form.get("step", "0")}">'
                            '<button type="submit" name="option" value="no">Nee</button></main>')

    sock = bind("127.0.0.1", 0)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    app = Starlette(routes=[Route("/case/{code}/answer", answer, methods=["POST"])])
    uvicorn.Server(uvicorn.Config(app, access_log=False, log_level="warning", server_header=False,
                                  lifespan="off")).run(sockets=[sock])


async def floor_level(n: int, args: argparse.Namespace) -> dict[str, Phase]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve-floor"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    base = proc.stdout.readline().split()[-1]
    try:
        limits = client_limits(n)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            sessions = []
            for _ in range(n):
                s = Session(client, base)
                s.code, s.text = "FL-OOR1", '<input name="step" value="0"><button name="option" value="no">'
                sessions.append(s)
            return {"human": await run_phase(sessions, args.interactive, args.think, n),
                    "saturated": await run_phase(sessions, args.duration, 0.0, n + 1)}
    finally:
        proc.terminate()
        proc.wait(10)


# -- Telegram at the same levels (bench/load.py) ----------------------------------------------------
async def telegram_level(url: str, n: int, args: argparse.Namespace) -> dict[str, Phase]:
    import load

    from matrix.loader import load_lens

    phases = await load.run_level(url, load_lens(), n, argparse.Namespace(
        think=args.think, interactive=args.interactive, duration=args.duration))
    out = {}
    for name, mine in (("interactive", "human"), ("saturation", "saturated")):
        p = phases[name]
        out[mine] = Phase(p.latencies, p.answers, p.wall)
    return out


# -- page weight ------------------------------------------------------------------------------------
async def page_weight(tmp: Path) -> list[tuple[str, int, int]]:
    """(page, bytes uncompressed, bytes as sent) of the start, question and summary pages, each
    with the static files it loads (the lens picture on the summary page not counted)."""
    tmp.mkdir(exist_ok=True)
    store = Store(f"sqlite:///{tmp / 'web.db'}")
    store.upgrade()
    invite = create_invite(store, "professional", actor="console:bench").code
    store.dispose()
    server = start_server(tmp)
    rows = []
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            s = Session(client, server.base)
            await s.sign_up_and_in(invite, "weigh")
            statics = ["/static/style.css", "/static/htmx.min.js", "/static/lensbot.js"]
            static_raw = static_sent = 0
            for path in statics:
                raw = await client.get(server.base + path, headers={"accept-encoding": "identity"})
                sent = await client.get(server.base + path, headers={"accept-encoding": "gzip"})
                static_raw += raw.num_bytes_downloaded
                static_sent += sent.num_bytes_downloaded
            start = await s.get("/")
            rows.append(("start page", start.num_bytes_downloaded))
            await s.start()
            question = await s.get(f"/case/{s.code}")
            rows.append(("question page", question.num_bytes_downloaded))
            while OPTION.search(s.text):
                await s.answer()
            summary = await s.get(f"/case/{s.code}/summary")
            rows.append(("summary page", summary.num_bytes_downloaded))
    finally:
        server.stop()
    return [(name, html + static_raw, html + static_sent) for name, html in rows]


def kb(n: float) -> str:
    return f"{n / 1024:.0f} KB"


async def main_async(args: argparse.Namespace) -> None:
    levels = [int(x) for x in args.levels.split(",")]
    dbs = ["sqlite"] + (["postgresql"] if args.postgres else [])
    results: dict[tuple[str, str, int], dict[str, Phase]] = {}
    with tempfile.TemporaryDirectory(prefix="lensbot-webload-") as tmp_dir:
        tmp = Path(tmp_dir)
        for db in dbs:
            for n in levels:
                for channel in ("web", "telegram") if args.telegram else ("web",):
                    work = tmp / f"{channel}-{db}-{n}"
                    work.mkdir()
                    schema = PgSchema(args.postgres) if db == "postgresql" else None
                    url = schema.__enter__() if schema else f"sqlite:///{work / 'web.db'}"
                    try:
                        if channel == "web":
                            results[(channel, db, n)] = await web_level(url, n, args, work)
                        else:
                            results[(channel, db, n)] = await telegram_level(url, n, args)
                    finally:
                        if schema:
                            schema.__exit__()
                    print(f"  {channel:8} {db:10} {n:4} sessions done, load average {os.getloadavg()[0]:.2f}",
                          flush=True)
                if db == "sqlite":   # the floor right beside the first run of each level, not at the end
                    results[("floor", "-", n)] = await floor_level(n, args)
                    print(f"  {'floor':8} {'-':10} {n:4} sessions done, load average {os.getloadavg()[0]:.2f}",
                          flush=True)
        weights = await page_weight(tmp / "weight")

    print()
    print(f"{'channel':9} {'database':10} {'sessions':>8} | {'think ' + format(args.think, 'g') + ' s: p50 ms':>20} "
          f"{'p99 ms':>7} {'answers':>8} | {'saturated: answers/s':>20} {'p50 ms':>7} {'p99 ms':>7}")
    for (channel, db, n), phases in sorted(results.items(), key=lambda kv: (kv[0][1] == "-", kv[0][1], kv[0][2])):
        human, sat = phases["human"], phases["saturated"]
        _, p50, p99 = human.row()
        rate, s50, s99 = sat.row()
        note = "   bare Starlette: POST -> tiny page" if channel == "floor" else ""
        print(f"{channel:9} {db:10} {n:8} | {p50:20.1f} {p99:7.1f} {len(human.latencies):8d} | "
              f"{rate:20.0f} {s50:7.1f} {s99:7.1f}{note}")
    print(f"\n(web: POST to response, htmx; telegram: update fed to handler done, bench/load.py; human pace "
          f"{args.interactive:g} s, then saturated {args.duration:g} s on the same sessions; "
          f"LENSBOT_PASSWORD_HASHING=cheapest; load average now {os.getloadavg()[0]:.2f})")
    print("\npage weight (HTML + style.css, htmx.min.js, lensbot.js; the lens picture not counted):")
    for name, raw, sent in weights:
        print(f"  {name:14} {kb(raw):>7} uncompressed   {kb(sent):>7} as sent (static files gzipped)")


def main() -> None:
    if "--serve-floor" in sys.argv:
        serve_floor()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,10,100", help="sessions per run (default 1,10,100)")
    parser.add_argument("--think", type=float, default=5.0, help="mean pause before each answer, s (default 5)")
    parser.add_argument("--interactive", type=float, default=20.0, help="seconds at human pace (default 20)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds saturated (default 5)")
    parser.add_argument("--postgres", default=None, help="also on PostgreSQL (a fresh schema of this URL)")
    parser.add_argument("--no-telegram", dest="telegram", action="store_false",
                        help="skip the Telegram figures (bench/load.py's run at the same levels)")
    args = parser.parse_args()
    print_machine("web_load: the web channel's answers under load, beside Telegram and a floor")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
