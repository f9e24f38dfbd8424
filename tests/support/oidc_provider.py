"""A small but real OpenID Connect provider for the tests, on 127.0.0.1 (Starlette under uvicorn
in a thread of the test process).

It does what an organisation's identity provider does in the authorization code flow, and is as
strict as one: a discovery document; /authorize checks the client, the registered redirect URI,
`response_type=code`, the `openid` scope, a PKCE S256 challenge, `state` and `nonce`, and shows a
tiny page with a "Sign in as <user>" button per known person (and "Cancel"); /token checks the
client secret (HTTP Basic or form), the code (single use, one minute), the redirect URI and the
PKCE verifier, and returns an access token and an RS256-signed ID token (joserfc) with iss, aud,
sub, nonce, iat, exp, auth_time, at_hash; /jwks publishes the public key.

`tamper` makes it misbehave on purpose, so the tests can show our side refuses: "aud" (a token
for another client), "nonce" (a nonce it was not sent), "signature" (signed with a key that is
not the published one, under the same key id), "iss" (another issuer), "state" (back to the
client with a state it did not send, as a forged callback would come).
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "lensbot-test"
CLIENT_SECRET = "een-geheim-voor-de-test-idp"
CODE_SECONDS = 60
TOKEN_SECONDS = 300
KID = "test-key-1"


@dataclass
class Grant:
    """What an authorization code stands for until it is exchanged (once)."""

    user: str
    redirect_uri: str
    challenge: str
    nonce: str
    expires: float


@dataclass
class IdentityProvider:
    """The provider's state: its clients, people, codes and keys; `tamper` as described above."""

    users: dict[str, dict[str, str]]
    redirect_uris: set[str] = field(default_factory=set)
    tamper: set[str] = field(default_factory=set)
    issuer: str = ""
    grants: dict[str, Grant] = field(default_factory=dict)
    token_requests: int = 0
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": KID}))
    wrong_key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": KID}))
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    # -- endpoints ----------------------------------------------------------------------------
    async def discovery(self, request: Request) -> Response:
        return JSONResponse({
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "grant_types_supported": ["authorization_code"],
        })

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    def _authorize_error(self, params: dict[str, str]) -> str | None:
        if params.get("client_id") != CLIENT_ID:
            return "unknown client"
        if params.get("redirect_uri") not in self.redirect_uris:
            return "redirect_uri not registered"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if "openid" not in params.get("scope", "").split():
            return "scope must contain openid"
        if params.get("code_challenge_method") != "S256" or len(params.get("code_challenge", "")) < 43:
            return "PKCE with S256 is required"
        if not params.get("state") or not params.get("nonce"):
            return "state and nonce are required"
        return None

    async def authorize_page(self, request: Request) -> Response:
        params = dict(request.query_params)
        error = self._authorize_error(params)
        if error:
            return HTMLResponse(f"<h1>Bad request</h1><p>{html.escape(error)}</p>", status_code=400)
        hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in params.items())
        buttons = "".join(f'<button name="user" value="{html.escape(u)}">Sign in as {html.escape(u)}</button>'
                          for u in self.users)
        return HTMLResponse(f'<!doctype html><html lang="en"><title>Test IdP</title><h1>Test IdP</h1>'
                            f'<form method="post" action="/authorize">{hidden}{buttons}'
                            f'<button name="user" value="">Cancel</button></form></html>')

    async def authorize(self, request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        user = form.pop("user", "")
        error = self._authorize_error(form)
        if error:
            return HTMLResponse(f"<h1>Bad request</h1><p>{html.escape(error)}</p>", status_code=400)
        back = form["redirect_uri"]
        if user not in self.users:
            return RedirectResponse(f"{back}?{urlencode({'error': 'access_denied', 'state': form['state']})}", 302)
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(user, back, form["code_challenge"], form["nonce"], time.time() + CODE_SECONDS)
        state = form["state"] + "-forged" if "state" in self.tamper else form["state"]
        return RedirectResponse(f"{back}?{urlencode({'code': code, 'state': state})}", 302)

    async def token(self, request: Request) -> Response:
        self.token_requests += 1
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != CLIENT_ID or not secrets.compare_digest(secret or "", CLIENT_SECRET):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        code = form.get("code", "")
        grant = self.grants.pop(code, None)   # a code is exchanged once
        if grant is None or grant.expires < time.time():
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if form.get("redirect_uri") != grant.redirect_uri:
            return JSONResponse({"error": "invalid_grant", "error_description": "redirect_uri"}, status_code=400)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not verifier or not secrets.compare_digest(challenge, grant.challenge):
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, status_code=400)
        access = secrets.token_urlsafe(32)
        return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": TOKEN_SECONDS,
                             "scope": "openid profile email", "id_token": self.id_token(grant, access)},
                            headers={"cache-control": "no-store"})

    def id_token(self, grant: Grant, access_token: str) -> str:
        now = int(time.time())
        digest = hashlib.sha256(access_token.encode()).digest()
        claims = {
            "iss": "https://elsewhere.example" if "iss" in self.tamper else self.issuer,
            "aud": "another-client" if "aud" in self.tamper else CLIENT_ID,
            "sub": self.users[grant.user]["sub"],
            "nonce": "not-the-nonce-sent" if "nonce" in self.tamper else grant.nonce,
            "iat": now, "exp": now + TOKEN_SECONDS, "auth_time": now,
            "at_hash": base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode(),
            "amr": ["pwd", "mfa"],
            **{k: v for k, v in self.users[grant.user].items() if k != "sub"},
        }
        key = self.wrong_key if "signature" in self.tamper else self.key
        return jwt.encode({"alg": "RS256", "kid": KID}, claims, key)

    # -- running ------------------------------------------------------------------------------
    def start(self) -> IdentityProvider:
        """Serve on a free port of 127.0.0.1; returns once it accepts connections."""
        # IPPROTO_TCP given: asyncio then sets TCP_NODELAY (bot/web/server.py says why it matters)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.issuer = f"http://127.0.0.1:{sock.getsockname()[1]}"
        app = Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/authorize", self.authorize_page),
            Route("/authorize", self.authorize, methods=["POST"]),
            Route("/token", self.token, methods=["POST"]),
            Route("/jwks", self.jwks),
        ])
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test identity provider did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
