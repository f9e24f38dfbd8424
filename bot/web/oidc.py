"""Single sign-on with the organisation's identity provider: OpenID Connect through Authlib.

The authorization code flow with PKCE (S256): `/login/sso` (or `/invite/{code}/sso`, which makes
the invited account for the provider's identity) sends the browser to the provider with a fresh
`state`, `nonce` and PKCE challenge; `/login/sso/callback` takes the code back. Authlib's
Starlette client does the protocol: discovery (`{issuer}/.well-known/openid-configuration`), the
authorization URL, the token request (client secret, PKCE verifier) and the ID token check:
signature against the provider's JWKS (joserfc), `iss` (the discovered issuer, which must be the
configured one), `aud` (our client id), `exp`/`iat` and `nonce`.

Where the flow waits: `state`, `nonce` and the PKCE verifier are secrets of this browser's
sign-in, so they stay on the server, in the session row behind the cookie (the `pending` slot of
`door.accounts.remember`, wrapped around an answer parked there, which is put back). A flow is
used once (taken out before the code is exchanged: a replayed callback finds nothing) and lives
ten minutes; a few may wait at once (two tabs). Nothing goes into a client-side cookie.

Who gets in is the door's business: `accounts.sso_user(issuer, subject)` for a known identity,
`accounts.sso_register(code, issuer, subject, ...)` for an invitation; then `promote(..., "active")`
(the provider did the second factor). Anything the provider does wrong is a short page, never a
traceback; the log gets the kind of failure only, never a claim or a token.
"""

from __future__ import annotations

import hmac
import json
import logging
import ssl
import time
import warnings
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import Response
from starlette.routing import Route

from bot.web.guard import Ctx, page
from dialogs.app import BadInput, Settings

with warnings.catch_warnings():
    # Authlib 1.9 would rather use httpx2 and says so on import; it works with httpx (what the lock
    # holds). authlib.deprecate puts an "always" filter first when imported: import it, then ours.
    import authlib.deprecate  # noqa: F401

    warnings.filterwarnings("ignore", message="The httpx module is deprecated", category=DeprecationWarning)
    from authlib.integrations.starlette_client import OAuth

log = logging.getLogger("lensbot.web")
CALLBACK = "/login/sso/callback"
SCOPE = "openid profile email"
FLOW_SECONDS = 600.0      # from leaving for the provider to coming back
MAX_FLOWS = 3             # sign-ins waiting at once in one session (tabs)
HTTP_TIMEOUT = 10.0       # seconds for each request to the provider
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class SsoFailed(Exception):
    """The provider's answer could not be used (its message is the failure's kind, for the log)."""


class Provider:
    """The organisation's provider as an Authlib client; one per process (it caches the discovery
    document and the JWKS, and fetches the JWKS again when a token names an unknown key)."""

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.redirect_uri = f"{settings.web_base_url}{CALLBACK}"
        # without a secret lensbot is a public client: PKCE alone binds the code to this browser's flow
        auth_method = "client_secret_basic" if settings.oidc_client_secret else "none"
        self.client: Any = OAuth().register(
            "organisation", client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
            server_metadata_url=f"{self.issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "timeout": HTTP_TIMEOUT,
                           "token_endpoint_auth_method": auth_method, "verify": self.tls()})

    @staticmethod
    def tls() -> ssl.SSLContext:
        """One TLS context for every request to the provider, with the system's trusted CAs (so an
        organisation's own CA, installed on the server or named in SSL_CERT_FILE, is trusted).
        Authlib makes a new HTTP client per call; without a shared context each one loaded the
        CA bundle again (measured: 47 ms of CPU per client, two per sign-in)."""
        return ssl.create_default_context()

    async def metadata(self) -> dict[str, Any]:
        """The discovery document; its issuer must be the one configured (OpenID Connect
        Discovery 1.0, section 4.3), else every token would be checked against the wrong one."""
        if not _secure(self.issuer):
            raise SsoFailed("the issuer must be an https:// address")
        metadata = await self.client.load_server_metadata()
        if str(metadata.get("issuer", "")).rstrip("/") != self.issuer:
            raise SsoFailed("the discovery document names another issuer")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not _secure(str(metadata.get(name, ""))):
                raise SsoFailed(f"the discovery document's {name} is missing or not https://")
        return metadata

    async def begin(self) -> dict[str, str]:
        """The provider's authorization URL with a new state, nonce and PKCE S256 challenge."""
        await self.metadata()
        made = await self.client.create_authorization_url(self.redirect_uri)
        return {"url": made["url"], "state": made["state"], "nonce": made["nonce"],
                "verifier": made["code_verifier"]}

    async def finish(self, code: str, flow: dict[str, Any]) -> dict[str, Any]:
        """Exchange the code (with the secret and the PKCE verifier) and check the ID token."""
        metadata = await self.metadata()
        token = await self.client.fetch_access_token(redirect_uri=self.redirect_uri, code=code,
                                                     code_verifier=flow["verifier"])
        options = {"iss": {"essential": True, "value": metadata["issuer"]},
                   "aud": {"essential": True, "value": self.client_id},
                   "exp": {"essential": True}, "nonce": {"essential": True, "value": flow["nonce"]}}
        claims = await self.client.parse_id_token(token, nonce=flow["nonce"], claims_options=options)
        if claims is None:
            raise SsoFailed("no ID token")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise SsoFailed("no subject")
        return dict(claims)


def _secure(url: str) -> bool:
    """https://, or http:// on this machine's loopback only (a provider run for tests or a demo)."""
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)


def provider_for(settings: Settings) -> Provider | None:
    """The provider when single sign-on is configured (LENSBOT_OIDC_ISSUER and _CLIENT_ID)."""
    return Provider(settings) if settings.oidc_enabled else None


# -- the flows waiting in the session ----------------------------------------------------------
def _unwrap(pending: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """(waiting flows, what else was parked) from the session's pending slot."""
    try:
        data = json.loads(pending) if pending else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("sso"), list):
        return [], pending
    parked = data.get("parked")
    flows = [f for f in data["sso"] if isinstance(f, dict) and isinstance(f.get("state"), str)
             and time.time() - float(f.get("at", 0)) < FLOW_SECONDS]
    return flows, parked if isinstance(parked, str) else None


def _wrap(flows: list[dict[str, Any]], parked: str | None) -> str | None:
    return json.dumps({"sso": flows, "parked": parked}) if flows else parked


async def _keep(ctx: Ctx, flows: list[dict[str, Any]], parked: str | None) -> None:
    await ctx.rt.db(ctx.rt.door.accounts.remember, ctx.visit.token or "", ctx.session.return_to,
                    _wrap(flows, parked))


def _kind(exc: Exception) -> str:
    """What went wrong, for the log: the exception's class and the protocol's error code and
    description (e.g. "InvalidClaimError: invalid_claim Invalid claim: 'aud'"), never a value."""
    if isinstance(exc, SsoFailed):
        return f"SsoFailed: {exc}"
    parts = [type(exc).__name__, str(getattr(exc, "error", "") or ""), str(getattr(exc, "description", "") or "")]
    return " ".join(p for p in parts if p)[:200]


def _provider(ctx: Ctx) -> Provider | None:
    """This process's provider client, made at first use (None: single sign-on is not configured)."""
    state = ctx.request.app.state
    if not hasattr(state, "oidc"):
        state.oidc = provider_for(ctx.rt.settings)
    return state.oidc


def _fail(ctx: Ctx, key: str, status: int) -> Response:
    return ctx.message("sso.title", ctx.t(key, name=ctx.rt.settings.oidc_name), status)


# -- the routes -----------------------------------------------------------------------------------
async def _start(ctx: Ctx, invite: str | None) -> Response:
    provider = _provider(ctx)
    if provider is None:
        return ctx.message("error.title", ctx.t("error.not_found"), 404)
    try:
        made = await provider.begin()
    except Exception as exc:   # the provider unreachable or misconfigured: nothing is changed
        log.warning("single sign-on: the provider could not be reached (%s)", _kind(exc))
        return _fail(ctx, "sso.unavailable", 503)
    flows, parked = _unwrap(ctx.session.pending)
    flows.append({"state": made["state"], "nonce": made["nonce"], "verifier": made["verifier"],
                  "invite": invite, "at": time.time()})
    await _keep(ctx, flows[-MAX_FLOWS:], parked)
    return ctx.redirect(made["url"])


@page("public")
async def start(ctx: Ctx) -> Response:
    """From the login page: off to the provider (someone signed in already goes to the start)."""
    if ctx.session.stage == "active":
        return ctx.redirect("/")
    return await _start(ctx, None)


@page("public")
async def start_invited(ctx: Ctx) -> Response:
    """From an invitation page: the account is made for the identity the provider confirms."""
    code = ctx.path_param("code")[:64]
    info = await ctx.rt.db(ctx.rt.door.accounts.invitation, code)
    if info is None or info.login is not None:   # unusable, or a password reset code
        return ctx.message("invite.title", ctx.rt.door.accounts.text("accounts.invite_bad", ctx.lang), 404)
    return await _start(ctx, code)


@page("public")
async def callback(ctx: Ctx) -> Response:
    """Back from the provider: the flow this state belongs to is taken (once), then the code is
    exchanged and the ID token checked, then the door says who this is."""
    provider = _provider(ctx)
    if provider is None:
        return ctx.message("error.title", ctx.t("error.not_found"), 404)
    query = ctx.request.query_params
    state = query.get("state", "")[:200]
    flows, parked = _unwrap(ctx.session.pending)
    flow = next((f for f in flows if state and hmac.compare_digest(f["state"].encode(), state.encode())), None)
    if flow is None:
        log.info("single sign-on: a callback without a waiting sign-in (expired, used or forged state)")
        return _fail(ctx, "sso.state", 400)
    await _keep(ctx, [f for f in flows if f is not flow], parked)
    if query.get("error") or not query.get("code"):
        error = (query.get("error") or "none")[:40]
        log.info("single sign-on: the provider sent no code (%s)", error)
        return _fail(ctx, "sso.cancelled" if error == "access_denied" else "sso.failed", 400)
    try:
        claims = await provider.finish(query["code"][:2000], flow)
    except Exception as exc:   # a refused code, a bad token, the provider unreachable: no sign-in
        log.warning("single sign-on refused: %s", _kind(exc))
        return _fail(ctx, "sso.failed", 400)
    accounts = ctx.rt.door.accounts
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    if flow.get("invite"):
        hint = claims.get("preferred_username") or claims.get("email")
        try:
            user = await ctx.rt.db(accounts.sso_register, flow["invite"], issuer, subject,
                                   hint if isinstance(hint, str) else None, ctx.lang)
        except BadInput as exc:
            return ctx.message("sso.title", accounts.text(str(exc), ctx.lang), 400)
    else:
        found = await ctx.rt.db(accounts.sso_user, issuer, subject)
        if found is None:
            return _fail(ctx, "sso.no_access", 403)
        user = found
    if len(flows) > 1:   # other tabs' sign-ins are dropped: only a parked answer stays for after the login
        await ctx.rt.db(accounts.remember, ctx.visit.token or "", ctx.session.return_to, parked)
    session = await ctx.rt.db(accounts.promote, ctx.visit.token or "", user, "active")
    ctx.visit.replace(session)
    return ctx.redirect("/continue")


routes = [
    Route("/login/sso", start),
    Route(CALLBACK, callback),
    Route("/invite/{code}/sso", start_invited),
]
