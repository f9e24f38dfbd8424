"""The web channel: lensbot in a browser, served by lensbot itself (`lensbot web`).

An adapter on the door like bot/telegram: pages turn form posts into calls on
`dialogs.app.Door(settings, channel="web")` and render what comes back (blocks, prompts, files)
with Jinja2 templates. No business rule lives here: who may do what, whether an answer counts
(the step check), login, sessions and throttling are decided in dialogs/.

    app.py       builds the Starlette application (routes, middleware, templates)
    server.py    runs it with uvicorn (`lensbot web`), prints the setup link
    runtime.py   the door, the database thread limiter, messages kept for the next page
    session.py   the one middleware that looks up the session behind the cookie
    security.py  security headers, the CSRF check, safe return paths
    guard.py     the one wrapper every page runs in (login stage, role, CSRF, errors)
    render.py    dialog output (blocks, prompts) as template-ready parts
    texts.py     the page texts (texts.yaml, nl and en)
    pages/       the routes: account (login, invitation, TOTP), cases, admin, info
"""
