"""Request size limits: a body over ``max_body_bytes`` is refused with 413 before any route sees it.

Pure ASGI. A declared Content-Length over the limit is refused at once; a chunked body is
read up to the limit and refused when it passes it, so a client cannot stream a large body in.
Accepted bodies are replayed to the app unchanged (they are small: a survey is ~1 KB).
"""
from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.audit import note_of


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_body_bytes
            except ValueError:
                too_large = True
            if too_large:
                await self._refuse(scope, send)
                return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await self._refuse(scope, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        limit_kb = self.max_body_bytes // 1024
        payload = json.dumps({"error": {
            "status": 413, "code": "too_large",
            "message": f"请求体超过 {limit_kb} KB 上限 (request body over the {limit_kb} KB limit) — "
                       "每次只提交一条调查记录 (send one survey per request)",
            "fields": [], "request_id": note_of(scope).request_id,
        }}, ensure_ascii=False).encode("utf-8")
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})
