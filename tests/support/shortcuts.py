"""Two shortcuts for the bots and HTTP clients the tests run, in the test process and the zygote.

Neither changes what lensbot does: each removes work that is repeated per client or per request and
whose result is the same every time (see each docstring). tests/conftest.py applies them to the test
process, tests/support/faults.py to the zygote before it forks `lensbot` children.
"""

from __future__ import annotations

import os
import ssl
import sys
from typing import Any


def share_the_tls_context() -> None:
    """One default TLS context for every httpx client in the test process, not one per client.

    Each python-telegram-bot Application makes two httpx clients, and each loads certifi's CA bundle
    (~30 ms of CPU on an idle machine, 66 ms on a loaded one: 4 s of 64 s in tests/test_telegram.py).
    The bots under test talk plain HTTP to the fake Bot API on 127.0.0.1, so the context is never even
    used; building it once changes nothing they do. Only the default request (verify=True, no client
    certificate) is shared, one per value of SSL_CERT_FILE and SSL_CERT_DIR (this machine sets both).
    The zygote (tests/support/faults.py) does the same before it forks `lensbot` children; the installed
    executable (LENSBOT_TEST_EXEC=1, and the tests that start it on purpose) builds its own.
    """
    try:
        from httpx._transports import default as transport  # httpx 0.28 (requirements-test.lock)
    except ImportError:   # pragma: no cover - another httpx: every client builds its own, as before
        return
    build = getattr(transport, "create_ssl_context", None)
    if build is None or getattr(build, "shared", False):
        return
    shared: dict[tuple[bool, str | None, str | None], ssl.SSLContext] = {}

    def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
        if verify is not True or cert is not None:
            return build(verify=verify, cert=cert, trust_env=trust_env)
        # httpx reads exactly these (with trust_env): one context per combination, as it would build it
        key = (bool(trust_env), os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        if key not in shared:
            shared[key] = build(verify=verify, cert=cert, trust_env=trust_env)
        return shared[key]

    create_ssl_context.shared = True  # type: ignore[attr-defined]
    transport.create_ssl_context = create_ssl_context


def remember_that_sniffio_is_missing() -> None:
    """Make `import sniffio` fail at once when sniffio is not installed, instead of searching sys.path again.

    httpcore imports sniffio inside every request (to tell asyncio from trio) and falls back to asyncio
    when it is missing, as it is here (anyio 4.16 no longer needs it). Each failed import walked every
    sys.path entry: 17,000 of them in tests/test_access.py, 4 of its 30 s under cProfile. A None in
    sys.modules is Python's own mark for "not importable"; the import fails exactly as before.
    """
    try:
        import sniffio  # noqa: F401
    except ImportError:
        sys.modules["sniffio"] = None  # type: ignore[assignment]
