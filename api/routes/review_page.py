"""The stewards' review page at /review: three static files (api/static/review/), served by the app itself.

The page is plain HTML, CSS and JavaScript with no framework, no build step and no CDN: every
script and style it loads comes from here, and it talks only to the /v1 API of the same origin
(GET /v1/review/queue, GET /v1/review/{item}, POST /v1/review/{item}/decision) with the
steward's bearer token, which the browser keeps in sessionStorage (never in a URL).

The files are served by name from a fixed list (no directory walking), with a Content Security
Policy that allows only this origin, so the page cannot load or send anything elsewhere.
Not part of the OpenAPI schema: it is a page, not an API endpoint.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from api.errors import ApiError

STATIC = Path(__file__).resolve().parent.parent / "static" / "review"
ASSETS: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "review.js": "text/javascript; charset=utf-8",
    "review.css": "text/css; charset=utf-8",
}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["review page 复核页面"], include_in_schema=False)


def _asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise ApiError(404, f"复核页面没有文件 {name} (no such file of the review page) — 打开 /review (open /review)")
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers=HEADERS)


@router.get("/review")
def page() -> FileResponse:
    """The review page (Simplified Chinese)."""
    return _asset("index.html")


@router.get("/review/")
def page_slash() -> RedirectResponse:
    return RedirectResponse("/review", status_code=307)


@router.get("/review/{name}")
def asset(name: str) -> FileResponse:
    """review.js, review.css (and index.html) by name."""
    return _asset(name)
