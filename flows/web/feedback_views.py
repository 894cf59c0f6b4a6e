"""The web app's writes: signing in and out, and a signed-in person's verdict on an alert.

Every POST here needs the CSRF token of the browser's own session; a verdict also needs
a signed-in person, whose name is recorded with it. Forms are URL-encoded (parsed here:
no multipart parser is needed for a few short fields). The views answer 404 while no
people are configured (web.users); flows/web/routes.py declares their routes.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from anyio import to_thread
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from flows.web.accounts import COOKIE_NAME, SESSION_SECONDS, Session
from flows.web.context import AppContext, session_of
from flows.web.params import parse_alert_id
from storage.clock import utcnow
from storage.feedback import FeedbackError, record_verdict
from storage.models import Alert


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
    # Lax, not Strict: a link followed from an email or Slack must arrive signed in. Cross-site
    # POSTs still go without the cookie, and every POST needs the session's CSRF token anyway.
    response.set_cookie(COOKIE_NAME, value, max_age=SESSION_SECONDS, path=f"{root}/",
                        secure=secure, httponly=True, samesite="lax")


def _require_enabled(context: AppContext) -> None:
    if not context.accounts.enabled:
        raise HTTPException(404, detail="Signing in is off: no people are configured (web.users); "
                                        "this app is read-only.")


async def _checked_form(context: AppContext, request: Request) -> tuple[Session, dict[str, str]]:
    """The form of a POST that carries its browser session's CSRF token; 403 otherwise."""
    _require_enabled(context)
    form = await _form(request)
    session = session_of(context.accounts, request)
    if not context.accounts.csrf_ok(session, form.get("csrf_token")):
        raise HTTPException(403, detail="This form has expired or did not come from this site; "
                                        "reload the page and try again.")
    assert session is not None
    return session, form


def _sign_in_page(context: AppContext, request: Request, status_code: int = 200, error: str | None = None,
                  session: Session | None = None, cookie: str | None = None,
                  next_path: str | None = None) -> Response:
    """The form; ``next_path`` is the posted form's ``next`` when re-shown after a failure
    (the POST has no query string), else the query's ``next``."""
    accounts, root = context.accounts, context.links.root
    if session is None:
        session, cookie = accounts.new_session(None)
    response = context.page(request, "sign_in.html", status_code=status_code, error=error,
                            form_token=accounts.csrf_token(session),
                            next_path=_local_path(root, next_path or request.query_params.get("next")))
    if cookie:
        _set_cookie(response, cookie, context.secure_cookies, root)
    return response


async def sign_in_form(context: AppContext, request: Request) -> Response:
    _require_enabled(context)
    current = session_of(context.accounts, request)
    if current and current.user is not None:  # already signed in: straight on to where they were going
        return RedirectResponse(_local_path(context.links.root, request.query_params.get("next")), status_code=303)
    return _sign_in_page(context, request, session=current) if current else _sign_in_page(context, request)


async def sign_in(context: AppContext, request: Request) -> Response:
    session, form = await _checked_form(context, request)
    accounts, given = context.accounts, form.get("name", "")
    address = request.client.host if request.client else "unknown"
    refusal = accounts.limiter.refusal(given, address)
    if refusal:
        return _sign_in_page(context, request, 429, refusal, session=session, next_path=form.get("next"))
    # At most a few scrypt checks at once; the rest wait here, on the event loop, not in pool threads.
    name = await to_thread.run_sync(accounts.check, given, form.get("password", ""),
                                    limiter=context.password_checks)
    if name is None:
        accounts.limiter.failed(given, address)
        return _sign_in_page(context, request, 401, "That name and password do not match.", session=session,
                             next_path=form.get("next"))
    accounts.limiter.succeeded(name)
    _, cookie = accounts.new_session(name)  # a new nonce: no token from before signing in survives
    response = RedirectResponse(_local_path(context.links.root, form.get("next")), status_code=303)
    _set_cookie(response, cookie, context.secure_cookies, context.links.root)
    return response


async def sign_out(context: AppContext, request: Request) -> Response:
    await _checked_form(context, request)
    root = context.links.root
    response = RedirectResponse(f"{root}/", status_code=303)
    response.delete_cookie(COOKIE_NAME, path=f"{root}/")
    return response


async def give_verdict(context: AppContext, request: Request) -> Response:
    session, form = await _checked_form(context, request)
    if session.user is None:
        raise HTTPException(403, detail="Sign in to give a verdict.")
    alert_id = parse_alert_id(request.path_params["alert_id"])
    user = session.user

    def record() -> int:
        with context.database.session() as s:
            alert = s.get(Alert, alert_id)
            if alert is None:
                raise HTTPException(404, detail=f"There is no alert {alert_id}.")
            record_verdict(s, alert_id, form.get("verdict", ""), user, utcnow(), note=form.get("note"))
            return alert.story_id

    try:
        story_id = await run_in_threadpool(record)
    except FeedbackError as exc:
        raise HTTPException(400, detail=str(exc)) from None
    return RedirectResponse(f"{context.links.root}/stories/{story_id}#alert-{alert_id}", status_code=303)
