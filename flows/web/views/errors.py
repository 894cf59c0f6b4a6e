"""Error answers in the form the request asked for: JSON for the API, text for CSV, a page otherwise."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from flows.web.context import AppContext
from flows.web.params import ParamError
from flows.web.security import SECURITY_HEADERS


def error_response(
    context: AppContext, request: Request, status: int, message: str, parameter: str | None = None
) -> Response:
    if request.url.path.startswith("/api/"):
        body: dict[str, Any] = {"error": message}
        if parameter:
            body["parameter"] = parameter
        return JSONResponse(body, status_code=status)
    if request.url.path.endswith(".csv"):
        return PlainTextResponse(f"{status}: {message}\n", status_code=status)
    return context.page(request, "error.html", status_code=status, status=status, message=message)


async def http_error(context: AppContext, request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail if exc.status_code == 404 and exc.detail != "Not Found" else {
        404: "There is no such page.",
    }.get(exc.status_code, str(exc.detail))
    return error_response(context, request, exc.status_code, message)


async def param_error(context: AppContext, request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ParamError)
    return error_response(context, request, 400, str(exc), exc.name)


async def server_error(context: AppContext, request: Request, exc: Exception) -> Response:
    # Raised errors bypass the guard middleware (Starlette answers them outermost).
    response = error_response(context, request, 500, "Something went wrong; see the server log.")
    for key, value in SECURITY_HEADERS:
        response.headers[key.decode()] = value.decode()
    return response
