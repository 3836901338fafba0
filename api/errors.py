"""One JSON error shape for every failure, and the one place foreign errors become HTTP answers.

    {"error": {"status": 422, "code": "validation_error",
               "message": "请求数据有误 (invalid request data)",
               "fields": [{"field": "id_number", "message": "公民身份号码校验位错误 (ID check digit wrong) …"}],
               "request_id": "3f2a…"}}

    ApiError            raised by routes: status, code, message (Chinese with English)
    RequestValidationError / RowRejected → 422 with field-level Chinese messages
    HTTPException       Starlette's 400/404/405 → same shape; a 405 lists every method of the path in Allow,
                        and OPTIONS on a path answers 204 with that Allow
    graph StoreBusy/StoreUnavailable → 503 (retry); QueryError → 422 (naming the parameter); other GraphError → 503
    graph GraphCrashed  → 500 graph_crashed: the query crashed the database's worker (restarted; details logged)
    anything else       → 500 without internals (they go to the server log)

No answer names a folder of the server: the store's paths in a message (an InputError of the
resolver, a StoreError naming its store) are replaced by <store> (hide_store_paths).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from api.audit import note_of
from api.models import UNKNOWN_FIELD_HINTS
from graph.errors import GraphCrashed, GraphError, QueryError, StoreBusy, StoreUnavailable
from resolver.attach import RowRejected
from resolver.errors import InputError

log = logging.getLogger("canbao.api")

# Pydantic error types → Chinese templates (English kept), filled from the error's ctx.
_MESSAGES: dict[str, str] = {
    "missing": "必填字段缺失 (field required)",
    "string_too_long": "过长，最多 {max_length} 个字符 (at most {max_length} characters)",
    "string_too_short": "过短，至少 {min_length} 个字符 (at least {min_length} characters)",
    "string_type": "应为文本 (must be a string)",
    "string_pattern_mismatch": "格式不正确 (does not match the expected pattern {pattern})",
    "date_from_datetime_parsing": "日期应为 YYYY-MM-DD (date must be YYYY-MM-DD)",
    "date_parsing": "日期应为 YYYY-MM-DD (date must be YYYY-MM-DD)",
    "date_type": "日期应为 YYYY-MM-DD (date must be YYYY-MM-DD)",
    "datetime_from_date_parsing": "时间应为 ISO 8601，如 2026-11-28T09:00:00+08:00 (must be an ISO 8601 date-time)",
    "datetime_parsing": "时间应为 ISO 8601，如 2026-11-28T09:00:00+08:00 (must be an ISO 8601 date-time)",
    "datetime_type": "时间应为 ISO 8601 (must be an ISO 8601 date-time)",
    "literal_error": "取值应为 {expected} 之一 (must be one of {expected})",
    "enum": "取值应为 {expected} 之一 (must be one of {expected})",
    "int_parsing": "应为整数 (must be an integer)",
    "int_type": "应为整数 (must be an integer)",
    "int_from_float": "应为整数 (must be an integer)",
    "float_parsing": "应为数字 (must be a number)",
    "float_type": "应为数字 (must be a number)",
    "bool_parsing": "应为 true 或 false (must be true or false)",
    "bool_type": "应为 true 或 false (must be true or false)",
    "greater_than_equal": "不能小于 {ge} (must be ≥ {ge})",
    "greater_than": "应大于 {gt} (must be > {gt})",
    "less_than_equal": "不能大于 {le} (must be ≤ {le})",
    "less_than": "应小于 {lt} (must be < {lt})",
    "extra_forbidden": "不认识的字段，请删除 (unknown field: remove it)",
    "json_invalid": "不是有效的 JSON (body is not valid JSON): {error}",
    "model_attributes_type": "应为 JSON 对象 (must be a JSON object)",
    "dict_type": "应为 JSON 对象 (must be a JSON object)",
    "list_type": "应为数组 (must be a list)",
    "value_error": "{error}",
    "assertion_error": "{error}",
    "union_tag_invalid": "取值应为 {expected_tags} 之一 (must be one of {expected_tags})",
    "union_tag_not_found": "必填字段缺失 (field required): {discriminator}",
}
# Error types the API's own validators raise; their message is already Chinese with English.
OWN_ERROR_PREFIX = "canbao_"

STATUS_CODES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求有误 (bad request)"),
    401: ("unauthenticated", "需要有效的访问令牌 (a valid bearer token is required): "
                             "请在 Authorization 头中给出 `Bearer <token>`，令牌由 `canbao user add` 发放"),
    403: ("forbidden", "无权访问 (forbidden)"),
    404: ("not_found", "找不到 (not found)"),
    405: ("method_not_allowed", "不支持该请求方法 (method not allowed)"),
    409: ("conflict", "与现有数据冲突 (conflicts with existing data)"),
    413: ("too_large", "请求体过大 (request body too large)"),
    422: ("validation_error", "请求数据有误 (invalid request data)"),
    500: ("internal_error", "服务器内部错误，请凭请求编号联系管理员 (internal error; quote the request id)"),
    503: ("unavailable", "服务暂不可用，请稍后重试 (temporarily unavailable; retry)"),
}


GRAPH_CRASHED = ("图库在处理本请求时崩溃，已自动重启，其他请求不受影响；请凭请求编号联系管理员 (the graph database crashed on "
                 "this request and was restarted; other requests are unaffected — quote the request id)")


class ApiError(Exception):
    """An error a route raises on purpose; ``fields`` for field-level problems."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 fields: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None):
        self.status = status
        self.code = code or STATUS_CODES.get(status, ("error", ""))[0]
        self.message = message
        self.fields = fields or []
        self.headers = headers
        super().__init__(message)


STORE_PLACEHOLDER = "<store>"


def hide_store_paths(folders: list[Path | str]) -> Callable[[str], str]:
    """A function replacing each of ``folders`` (as given and absolute) in a text by <store>.

    Messages of the resolver and the graph name the files they concern for the operator at the CLI;
    an API caller learns nothing from the server's folders, and should not see them.
    """
    forms: set[str] = set()
    for folder in folders:
        given = str(folder)
        forms.update({str(Path(given).resolve()), os.path.abspath(given)})
        if os.sep in given:
            forms.add(given)
        else:
            # A relative store named without a separator shows up as store/graph, store/state …
            forms.add(given + os.sep)
    ordered = sorted((f for f in forms if f not in ("", os.sep)), key=len, reverse=True)

    def hide(text: str) -> str:
        for form in ordered:
            if form in text:
                text = text.replace(form, STORE_PLACEHOLDER + (os.sep if form.endswith(os.sep) else ""))
        return text

    return hide


def _no_paths(request: Request) -> Callable[[str], str]:
    return getattr(request.app.state, "hide_paths", None) or (lambda text: text)


def error_body(request: Request, status: int, message: str, code: str | None = None,
               fields: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The one error shape (with the store's paths hidden)."""
    hide = _no_paths(request)
    return {"error": {
        "status": status,
        "code": code or STATUS_CODES.get(status, ("error", ""))[0],
        "message": hide(message),
        "fields": [{**field, "message": hide(field["message"])} for field in fields or []],
        "request_id": note_of(request.scope).request_id,
    }}


def error_response(request: Request, status: int, message: str, code: str | None = None,
                   fields: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(request, status, message, code, fields), status_code=status, headers=headers)


def field_message(error: dict[str, Any]) -> str:
    """A pydantic error in Chinese (with English); the models' own errors (type ``canbao_*``) are written so."""
    if error["type"].startswith(OWN_ERROR_PREFIX):
        return str(error["msg"])
    template = _MESSAGES.get(error["type"])
    context = {key: str(value) for key, value in (error.get("ctx") or {}).items()}
    if template is None:
        return f"输入无效 (invalid input): {error['msg']}"
    try:
        return template.format(**context)
    except KeyError:
        return f"{template.split(' (')[0]} ({error['msg']})"


def field_path(location: tuple[Any, ...] | list[Any], body: Any = None) -> str:
    """('body', 'id_number') → 'id_number'; ('query', 'limit') → 'limit' (the name the caller sent).

    A body that is a tagged union (``{"action": "return", …}``) has the tag in the location,
    ('body', 'return', 'reason'): a part before the last that is no key of the body is that tag, dropped."""
    parts = [str(p) for p in location]
    if parts and parts[0] in ("body", "query", "path", "header") and len(parts) > 1:
        if parts[0] == "body" and len(parts) > 2 and isinstance(body, dict) and parts[1] not in body:
            parts = parts[1:]
        parts = parts[1:]
    return ".".join(parts) or "body"


def field_errors(error: dict[str, Any], body: Any = None) -> list[dict[str, str]]:
    """One pydantic error as the fields it names: a model-level rule (ctx ``fields``) names each of its fields, a
    tagged union's missing or unknown tag names the tag field."""
    message = field_message(error)
    context = error.get("ctx") or {}
    if context.get("fields"):
        return [{"field": name, "message": message} for name in str(context["fields"]).split(",")]
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return [{"field": str(context.get("discriminator", "body")).strip("'"), "message": message}]
    field = field_path(error["loc"], body)
    if error["type"] == "extra_forbidden" and field in UNKNOWN_FIELD_HINTS:
        message = UNKNOWN_FIELD_HINTS[field]   # a field clients may still send from an older contract
    return [{"field": field, "message": message}]


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(app: Starlette, scope: Scope) -> list[str]:
    """Every method some route of the app answers on this path, and OPTIONS (answered here).

    Starlette's 405 names only the methods of the first route whose path matched, so a path served by
    two routes (GET and POST /v1/surveys, in routers FastAPI nests) advertised one of them; asking each
    route whether it fully matches the path with each method finds them all."""
    allowed = [method for method in METHODS
               if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in app.router.routes)]
    return [*allowed, "OPTIONS"]


def install(app: FastAPI, private_folders: list[Path | str] = ()) -> None:
    """Register the handlers that give every failure the one shape; ``private_folders`` never appear in one."""
    app.state.hide_paths = hide_store_paths(list(private_folders))

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(request, error.status, error.message, error.code, error.fields, error.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        fields = [field for e in error.errors() for field in field_errors(e, error.body)]
        return error_response(request, 422, STATUS_CODES[422][1], fields=fields)

    @app.exception_handler(RowRejected)
    async def _row(request: Request, error: RowRejected) -> JSONResponse:
        fields = [{"field": p.field, "message": p.message} for p in error.problems]
        return error_response(request, 422, STATUS_CODES[422][1], fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        headers = getattr(error, "headers", None)
        if error.status_code == 405:
            allow = ", ".join(allowed_methods(request.app, request.scope))
            if request.method == "OPTIONS":
                return Response(status_code=204, headers={"Allow": allow})
            headers = {**(headers or {}), "Allow": allow}
        code, default = STATUS_CODES.get(error.status_code, ("error", str(error.detail)))
        message = default if error.status_code in (404, 405) else f"{default}: {error.detail}"
        return error_response(request, error.status_code, message, code, headers=headers)

    @app.exception_handler(QueryError)
    async def _query(request: Request, error: QueryError) -> JSONResponse:
        fields = [{"field": error.param, "message": str(error)}] if error.param else None
        return error_response(request, 422, str(error), "query_error", fields)

    @app.exception_handler(InputError)
    async def _input(request: Request, error: InputError) -> JSONResponse:
        return error_response(request, 422, str(error), "input_error")

    @app.exception_handler(GraphCrashed)
    async def _crashed(request: Request, error: GraphCrashed) -> JSONResponse:
        # The worker is gone and the next graph call starts a fresh one; the request that crashed it is answered
        # here (and audited like every other), the operation and the signal go to the server log.
        log.error("graph worker crashed on %s %s (request %s): %s", request.method, request.url.path,
                  note_of(request.scope).request_id, error)
        return error_response(request, 500, GRAPH_CRASHED, "graph_crashed")

    @app.exception_handler(GraphError)
    async def _graph(request: Request, error: GraphError) -> JSONResponse:
        retryable = isinstance(error, (StoreBusy, StoreUnavailable)) or getattr(error, "retryable", False)
        log.error("graph error on %s %s: %s", request.method, request.url.path, error)
        message = f"{STATUS_CODES[503][1]}: {error}" if retryable else STATUS_CODES[503][1]
        return error_response(request, 503, message, "store_busy" if retryable else "store_error",
                              headers={"Retry-After": "2"} if retryable else None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, STATUS_CODES[500][1])
