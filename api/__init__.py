"""canbao's REST API for the survey app, stewards and analysts (`canbao serve`): ``create_app(settings)``."""
from __future__ import annotations

from api.app import create_app
from api.settings import ApiSettings, load_settings

__all__ = ["ApiSettings", "create_app", "load_settings"]
