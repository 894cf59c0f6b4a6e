"""The web app's writes: signing in and out, and a signed-in person's verdict on an alert.

Every POST here needs the CSRF token of the browser's own session; a verdict also needs
a signed-in person, whose name is recorded with it. Forms are URL-encoded (parsed here:
no multipart parser is needed for a few short fields).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from flows.web.accounts import COOKIE_NAME, SESSION_SECONDS, Accounts, Session
from flows.web.params import parse_alert_id
from storage.clock import utcnow
from storage.db import Database
from storage.feedback import FeedbackError, record_verdict
from storage.models import Alert

Page = Callable[..., Response]


def session_of(accounts: Accounts, request: Request) -> Session | None:
    return accounts.read_session(request.cookies.get(COOKIE_NAME))


def viewer_context(accounts: Accounts, request: Request) -> dict[str, Any]:
    """What every page needs to show sign-in state and to carry a CSRF token in its forms."""
    session = session_of(accounts, request)
    return {
        "sign_in_enabled": accounts.enabled,
        "viewer": session.user if session else None,
        "csrf_token": accounts.csrf_token(session) if session else "",
    }


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise HTTPException(415, detail="Send the form as application/x-www-form-urlencoded.")
    body = (await request.body()).decode("utf-8", errors="replace")
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}


def _local_path(root: str, target: str | None) -> str:
    """Where to go after a form: a path on this site only (never another host)."""
    if target and target.startswith(f"{root}/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{root}/"


def _set_cookie(response: Response, value: str, secure: bool, root: str) -> None:
    response.set_cookie(COOKIE_NAME, value, max_age=SESSION_SECONDS, path=f"{root}/",
                        secure=secure, httponly=True, samesite="strict")


def feedback_routes(db: Database, accounts: Accounts, page: Page, root: str, secure: bool) -> list[Route]:
    """The sign-in, sign-out and verdict routes (answering 404 while no people are configured)."""

    def require_enabled() -> None:
        if not accounts.enabled:
            raise HTTPException(404, detail="Signing in is off: no people are configured (web.users); "
                                            "this app is read-only.")

    async def checked_form(request: Request) -> tuple[Session, dict[str, str]]:
        require_enabled()
        form = await _form(request)
        session = session_of(accounts, request)
        if not accounts.csrf_ok(session, form.get("csrf_token")):
            raise HTTPException(403, detail="This form has expired or did not come from this site; "
                                            "reload the page and try again.")
        assert session is not None
        return session, form

    def sign_in_page(request: Request, status_code: int = 200, error: str | None = None,
                     session: Session | None = None, cookie: str | None = None) -> Response:
        if session is None:
            session, cookie = accounts.new_session(None)
        response = page(request, "sign_in.html", status_code=status_code, error=error,
                        form_token=accounts.csrf_token(session),
                        next_path=_local_path(root, request.query_params.get("next")))
        if cookie:
            _set_cookie(response, cookie, secure, root)
        return response

    async def sign_in_form(request: Request) -> Response:
        require_enabled()
        current = session_of(accounts, request)
        return sign_in_page(request, session=current) if current else sign_in_page(request)

    async def sign_in(request: Request) -> Response:
        session, form = await checked_form(request)
        name = await run_in_threadpool(accounts.check, form.get("name", ""), form.get("password", ""))
        if name is None:
            return sign_in_page(request, 401, "That name and password do not match.", session=session)
        _, cookie = accounts.new_session(name)  # a new nonce: no token from before signing in survives
        response = RedirectResponse(_local_path(root, form.get("next")), status_code=303)
        _set_cookie(response, cookie, secure, root)
        return response

    async def sign_out(request: Request) -> Response:
        await checked_form(request)
        response = RedirectResponse(f"{root}/", status_code=303)
        response.delete_cookie(COOKIE_NAME, path=f"{root}/")
        return response

    async def give_verdict(request: Request) -> Response:
        session, form = await checked_form(request)
        if session.user is None:
            raise HTTPException(403, detail="Sign in to give a verdict.")
        alert_id = parse_alert_id(request.path_params["alert_id"])
        user = session.user

        def record() -> int:
            with db.session() as s:
                alert = s.get(Alert, alert_id)
                if alert is None:
                    raise HTTPException(404, detail=f"There is no alert {alert_id}.")
                record_verdict(s, alert_id, form.get("verdict", ""), user, utcnow(), note=form.get("note"))
                return alert.story_id

        try:
            story_id = await run_in_threadpool(record)
        except FeedbackError as exc:
            raise HTTPException(400, detail=str(exc)) from None
        return RedirectResponse(f"{root}/stories/{story_id}#alert-{alert_id}", status_code=303)

    return [
        Route("/sign-in", sign_in_form, methods=["GET", "HEAD"], name="sign_in_form"),
        Route("/sign-in", sign_in, methods=["POST"], name="sign_in"),
        Route("/sign-out", sign_out, methods=["POST"], name="sign_out"),
        Route("/alerts/{alert_id}/feedback", give_verdict, methods=["POST"], name="give_verdict"),
    ]
