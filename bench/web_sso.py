"""Single sign-on: what lensbot's own side of an OpenID Connect login costs.

Starts the test provider (tests/support/oidc_provider.py) and `lensbot web` on an empty SQLite
database, then signs in --rounds times over loopback with httpx, as a browser would: GET
/login/sso (a session, a new state/nonce/PKCE verifier stored server-side, the redirect), the
provider's page and its redirect back, and GET /login/sso/callback (the state taken, the code
exchanged at the provider, the ID token's signature and claims checked, the door asked). The
person is one the provider knows and lensbot does not, so every round ends on the same page and
the database does not grow. Prints p50/p99 of both lensbot requests beside a floor.

Run: .venv/bin/python bench/web_sso.py [--rounds 50]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from html import unescape
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, IdentityProvider
from tests.support.web import start_server

FLOOR_MS = {"start": 50.0, "callback": 100.0}   # p50 on a loaded 2-core machine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    idp = IdentityProvider({"carl": {"sub": "c-0042"}}).start()
    server = start_server(Path(tempfile.mkdtemp()), LENSBOT_OIDC_ISSUER=idp.issuer,
                          LENSBOT_OIDC_CLIENT_ID=CLIENT_ID, LENSBOT_OIDC_CLIENT_SECRET=CLIENT_SECRET)
    idp.redirect_uris.add(f"{server.base}/login/sso/callback")
    times: dict[str, list[float]] = {"start": [], "callback": []}
    try:
        with httpx.Client() as client:
            for _ in range(args.rounds):
                began = time.perf_counter()
                start = client.get(f"{server.base}/login/sso")
                times["start"].append(time.perf_counter() - began)
                cookie = start.headers["set-cookie"].split(";")[0]   # __Host-: httpx keeps it for https only
                form = {k: unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"',
                                                              client.get(start.headers["location"]).text)}
                back = client.post(f"{idp.issuer}/authorize", data={**form, "user": "carl"})
                began = time.perf_counter()
                page = client.get(back.headers["location"], headers={"cookie": cookie})
                times["callback"].append(time.perf_counter() - began)
                assert "nog geen toegang" in page.text, page.text[:300]
    finally:
        server.stop()
        idp.stop()
    print(f"single sign-on, {args.rounds} rounds over loopback (SQLite)")
    worst = 0
    for name, values in times.items():
        ms = sorted(v * 1000 for v in values)
        p50, p99 = statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        ok = p50 <= FLOOR_MS[name]
        worst |= not ok
        print(f"  {name:9} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms   floor p50 <= {FLOOR_MS[name]:.0f} ms  "
              f"{'ok' if ok else 'ABOVE'}")
    return worst


if __name__ == "__main__":
    sys.exit(main())
