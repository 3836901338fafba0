"""The /v1 routers, one module per resource; each endpoint is thin: it calls the library and shapes the answer."""
from __future__ import annotations

from fastapi import APIRouter

from api.routes import health, persons, resolve, review, stats, surveys, worklists

ROUTERS: tuple[APIRouter, ...] = (
    health.router, resolve.router, persons.router, worklists.router, surveys.router, review.router, stats.router,
)
