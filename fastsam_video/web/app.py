"""The FastAPI application: routers, pages, the token check, the upload limit and one-line errors.

Every error a request can cause is answered with `{"error": "<one line>"}` and a 4xx status:
bad JSON or fields 422, unknown ids 404, wrong state 409, too large 413, no token 401. An
unexpected failure is logged with its traceback and answered 500 without one.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException

from ..metrics import Metrics
from ..sources import redact_url
from ..types import FastSAMVideoError
from .auth import TokenMiddleware
from .imaging import BadRequest, ImageSegmenter, NotFound
from .routes import ROUTERS
from .service import Conflict, LiveService, Unavailable

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
PAGES = {"/": "live.html", "/image": "image.html"}
MAX_UPLOAD = 20 * 2**20  # bytes of one request body


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": redact_url(" ".join(str(message).split()))}, status_code=status)


def validation_message(err: RequestValidationError) -> str:
    first = err.errors()[0] if err.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    if first.get("type") == "json_invalid":
        return f"the body is not valid JSON ({first.get('ctx', {}).get('error', 'parse error')})"
    return f"{where}: {first.get('msg', 'invalid')}" + (f", got {json.dumps(first['input'])[:60]}"
                                                        if "input" in first and first["input"] is not None else "")


class BodyLimit:
    """ASGI middleware: 413 for a body over `limit` bytes (by its Content-Length), 411 for a
    request body of unknown length."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = dict(scope.get("headers") or [])
            length = headers.get(b"content-length")
            status, message = None, None
            if length is None and headers.get(b"transfer-encoding"):
                status, message = 411, "the request needs a Content-Length header"
            elif length is not None and (not length.isdigit() or int(length) > self.limit):
                status, message = 413, f"the body is over the {self.limit // 2**20} MB limit: send a smaller image"
            if status is not None:
                return await error(status, message)(scope, receive, send)
        await self.app(scope, receive, send)


def create_app(live: LiveService, images: ImageSegmenter, *, token: str | None = None,
               max_upload: int = MAX_UPLOAD, metrics: Metrics | None = None) -> FastAPI:
    app = FastAPI(title="fastsam-video", summary="Live promptable video segmentation and FastSAM's image demo",
                  version="0.1.0")
    app.state.live = live
    app.state.metrics = metrics or Metrics(live)
    app.state.images = images
    for router in ROUTERS:
        app.include_router(router)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError):
        return error(422, validation_message(err))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException):
        return error(err.status_code, err.detail)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, err: NotFound):
        return error(404, err.args[0] if err.args else "not found")

    @app.exception_handler(Conflict)
    async def conflict(request: Request, err: Conflict):
        return error(409, str(err))

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, err: Unavailable):
        return error(503, str(err))

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, err: BadRequest):
        return error(422, str(err))

    @app.exception_handler(FastSAMVideoError)
    async def user_error(request: Request, err: FastSAMVideoError):  # a source that cannot open, a prompt, weights
        return error(422, str(err))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception):
        log.exception("%s %s failed", request.method, request.url.path)
        return error(500, f"internal error ({type(err).__name__}): see the server log")

    def page(name: str):
        def serve_page() -> FileResponse:
            return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})
        return serve_page

    for path, name in PAGES.items():
        app.add_api_route(path, page(name), methods=["GET"], include_in_schema=False)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        files = {p.name: p for p in STATIC.iterdir() if p.is_file()}
        if name not in files:
            raise NotFound(f"no static file {name[:60]!r}")
        return FileResponse(files[name], headers={"Cache-Control": "no-cache"})

    app.add_middleware(BodyLimit, limit=max_upload)
    app.add_middleware(TokenMiddleware, token=token)  # added last: runs first
    return app
