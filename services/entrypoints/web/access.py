"""Who may read the pages: holders of the auditor token.

The pages show learners' records, so they are closed by default. Until the lead wires
NATS-style roles into HTTP, one shared secret stands for the auditor role, as the
auditor's nkey does on NATS: ``$LEARNER_RECORDS_WEB_TOKEN`` if set, else a random token
generated once into ``var/web/auditor.token`` (mode 0600) and reused.

A client shows it in one of three ways:

- ``Authorization: Bearer TOKEN`` (scripts reading the JSON);
- ``?token=TOKEN`` on any page (a link an auditor is handed): answered with a redirect
  to the same address without it, setting a cookie, so the token does not stay in the
  address bar, the history or a link copied from there;
- the cookie itself (HttpOnly, SameSite=Lax), also set by the sign-in form every
  refused page shows.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "COOKIE",
    "DEFAULT_TOKEN_FILE",
    "TOKEN_ENV",
    "TokenGate",
    "auditor_token",
    "token_matches",
]

TOKEN_ENV = "LEARNER_RECORDS_WEB_TOKEN"
DEFAULT_TOKEN_FILE = Path("var") / "web" / "auditor.token"
COOKIE = "learner_records_auditor"
# Where the gate lets anyone through: the sign-in form posts there, and the stylesheet
# styles the refusal page itself.
OPEN_PATHS = ("/login", "/static/")
# Answered with JSON and a bearer challenge rather than a sign-in page.
API_PATHS = ("/api/", "/openapi.json")
_TOKEN_BYTES = 32
_MAX_FORM = 4096  # the sign-in form's body: a token and a path, nothing more

log = structlog.get_logger(__name__)

# Renders the sign-in page: (request, message, status, path to return to) -> response.
SignInPage = Callable[[Request, str, int, str], Response]


def auditor_token(path: Path = DEFAULT_TOKEN_FILE, env: Mapping[str, str] = os.environ) -> str:
    """The token from the environment, else the one in ``path``, written there first if new."""
    if given := env.get(TOKEN_ENV, "").strip():
        return given
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        _write_new_token(path)
        log.info("web_token.created", file=str(path))
    _keep_private(path)
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"{path} is empty: delete it to have a new token generated")
    return token


def token_matches(given: str | None, token: str) -> bool:
    # Constant time, so the token cannot be found a character at a time by timing.
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


class TokenGate:
    """ASGI middleware: every request shows the token, or is refused (401)."""

    def __init__(self, app: ASGIApp, *, token: str, sign_in: SignInPage) -> None:
        self.app = app
        self.token = token
        self.sign_in = sign_in

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        path = request.url.path.removeprefix(scope.get("root_path", ""))
        if path == "/login" and request.method == "POST":
            response = await self._login(request)
        elif path.startswith(OPEN_PATHS) or self._shown(request):
            await self.app(scope, receive, send)
            return
        elif "token" in request.query_params:
            response = self._from_link(request, path)
        elif path.startswith(API_PATHS):
            response = JSONResponse(
                {"detail": "an auditor token is needed: Authorization: Bearer TOKEN"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="learner-records"'},
            )
        else:
            response = self.sign_in(request, "", 401, _wanted(request, path))
        await response(scope, receive, send)

    def _shown(self, request: Request) -> bool:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token_matches(credentials.strip(), self.token):
            return True
        return token_matches(request.cookies.get(COOKIE), self.token)

    def _from_link(self, request: Request, path: str) -> Response:
        if not token_matches(request.query_params.get("token"), self.token):
            message = "That token is not the auditor token."
            return self.sign_in(request, message, 401, _wanted(request, path))
        root: str = request.scope.get("root_path", "")
        return self._signed_in(request, root + _wanted(request, path))

    async def _login(self, request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > _MAX_FORM:
                return self.sign_in(request, "That form was too large.", 413, "/")
        form = dict(parse_qsl(body.decode("utf-8", errors="replace")))
        back = _local(form.get("next", "/"))
        if not token_matches(form.get("token", "").strip(), self.token):
            # Refused again: the form still returns to the page first asked for.
            return self.sign_in(request, "That token is not the auditor token.", 401, back)
        root: str = request.scope.get("root_path", "")
        return self._signed_in(request, root + back)

    def _signed_in(self, request: Request, to: str) -> Response:
        response = RedirectResponse(to, status_code=303)
        # HttpOnly: no script can read it (there are none, and the CSP allows none).
        # SameSite=Lax, not Strict: a shared link followed from another site opens the
        # page signed in, while no other site can post with it. Nothing here changes
        # on a GET, and the one POST, signing in, needs the token itself.
        response.set_cookie(
            COOKIE,
            self.token,
            path=request.scope.get("root_path") or "/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response


def _local(target: str) -> str:
    """``target`` if it is a path on this site, else "/": never a redirect elsewhere."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _wanted(request: Request, path: str) -> str:
    """The page asked for (below the mount point), less any token, to return to."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    return path + (f"?{urlencode(kept)}" if kept else "")


def _write_new_token(path: Path) -> None:
    # O_EXCL and mode 0600 from the first byte, as the NATS seeds are written.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process just wrote one: use theirs
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secrets.token_urlsafe(_TOKEN_BYTES) + "\n")
        out.flush()
        os.fsync(out.fileno())


def _keep_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("web_token.too_open", path=str(path), mode=oct(mode), now=oct(mode & 0o700))
        with contextlib.suppress(PermissionError):
            path.chmod(mode & 0o700)
