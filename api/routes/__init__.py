"""The /v1 routers, one module per resource; each endpoint is thin: it calls the library and shapes the answer.

The surveys router is built per app (``surveys.build_router``) from the store's survey mapping."""
from __future__ import annotations

from fastapi import APIRouter

from api.routes import health, persons, resolve, review, stats, worklists

ROUTERS: tuple[APIRouter, ...] = (
    health.router, resolve.router, persons.router, worklists.router, review.router, stats.router,
)
