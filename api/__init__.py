"""canbao's REST API for the survey app, stewards and analysts (`canbao serve`): ``create_app(settings)``.

The names below load on first use, so the command line can use api.database and api.audit_store (its own
reads are audited there) without importing the web framework.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import create_app
    from api.settings import ApiSettings, load_settings

__all__ = ["ApiSettings", "create_app", "load_settings"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from api.app import create_app
        return create_app
    if name in ("ApiSettings", "load_settings"):
        import api.settings
        return getattr(api.settings, name)
    raise AttributeError(f"module 'api' has no attribute {name!r}")
