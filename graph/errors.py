"""The graph package's errors, drawn once; foreign errors are translated here.

    GraphError                  every error the graph package raises
    ├── StoreSpecError          a --store value that names no store we can open
    ├── MissingDependency       an optional package (the neo4j driver) is not installed
    ├── RunDataError            a RunData frame lacks columns or holds bad values
    ├── QueryError              a named query or its parameters are wrong
    └── StoreError              the database refused or failed an operation
        ├── StoreUnavailable    cannot reach / open the store (often retryable)
        ├── StoreBusy           another writer holds the store (retryable)
        └── GraphCrashed        the embedded database's worker process died during the operation

Every StoreError names the store, the operation and whether retrying may help.
``from_ladybug`` and ``from_neo4j`` are the only places foreign errors become ours.
"""
from __future__ import annotations

from resolver.errors import CanbaoError


class GraphError(CanbaoError):
    """Base of every error raised by the graph package."""


class StoreSpecError(GraphError, ValueError):
    """A store spec (``--store``) that is neither a folder nor a neo4j/bolt URI."""


class MissingDependency(GraphError, ImportError):
    """An optional dependency is missing; the message says what to install."""


class RunDataError(GraphError, ValueError):
    """The pipeline's RunData does not have the shape the graph needs."""


class QueryError(GraphError, ValueError):
    """An unknown named query, or a parameter it does not take, cannot parse or holds out of range.

    ``param`` names the offending parameter when there is one (the API reports it as the field).
    """

    def __init__(self, message: str, *, param: str | None = None):
        self.param = param
        super().__init__(message)


class StoreError(GraphError):
    """A store operation failed; says which store, which operation, retryable or not."""

    def __init__(self, store: str, operation: str, detail: str, *, retryable: bool = False):
        self.store = store
        self.operation = operation
        self.detail = detail
        self.retryable = retryable
        hint = "可重试 (retryable)" if retryable else "不可重试 (not retryable)"
        super().__init__(f"{store}: {operation} 失败 (failed): {detail} [{hint}]")

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Pickled by the constructor's arguments: a supervised store's worker sends its errors over a pipe, and the
        # default (the class called with the message alone) does not fit this signature.
        return _rebuilt, (type(self), self.store, self.operation, self.detail, self.retryable)


class StoreUnavailable(StoreError):
    """The store cannot be reached or opened."""


class StoreBusy(StoreError):
    """Another process holds the store's write lock."""


class GraphCrashed(StoreError):
    """The process running the embedded database died during the operation (a crash of the C++ library)."""


def _rebuilt(kind: type[StoreError], store: str, operation: str, detail: str, retryable: bool) -> StoreError:
    return kind(store, operation, detail, retryable=retryable)


def from_ladybug(exc: Exception, store: str, operation: str) -> StoreError:
    """Translate a LadybugDB exception (RuntimeError with a typed prefix) into a StoreError."""
    text = str(exc)
    if "lock" in text.lower() and ("could not set lock" in text.lower() or "locked" in text.lower()):
        return StoreBusy(store, operation, f"{text} — 另一进程正在使用该库 (another process has it open); close it and retry",
                         retryable=True)
    if isinstance(exc, (OSError, FileNotFoundError)):
        return StoreUnavailable(store, operation, text, retryable=False)
    return StoreError(store, operation, text, retryable=False)


def from_neo4j(exc: Exception, store: str, operation: str) -> StoreError:
    """Translate a neo4j driver exception, keeping the driver's own retryable verdict."""
    is_retryable = getattr(exc, "is_retryable", None)
    retryable = bool(is_retryable()) if callable(is_retryable) else False
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None) or str(exc)
    detail = f"{code}: {message}" if code else f"{type(exc).__name__}: {message}"
    kind = type(exc).__name__
    if kind in {"ServiceUnavailable", "SessionExpired"}:
        return StoreUnavailable(store, operation, detail + " — 检查 NEO4J_URI 与服务状态 (check NEO4J_URI and that the server runs)",
                                retryable=True)
    if kind in {"AuthError", "Forbidden"} or (code or "").startswith("Neo.ClientError.Security"):
        return StoreUnavailable(store, operation, detail + " — 检查 NEO4J_USER / NEO4J_PASSWORD (check credentials)",
                                retryable=False)
    return StoreError(store, operation, detail, retryable=retryable)
