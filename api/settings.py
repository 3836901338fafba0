"""The API's one typed settings object, validated when the service starts (never at import time).

Every setting has a type, a range and a Chinese/English description; a bad value or a
store that holds no run stops `canbao serve` with a message naming the setting and the fix.
There are no secrets here: callers hold per-user bearer tokens, stored hashed (art. 33).
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from api.database import DATABASE_FILE
from resolver.errors import ConfigError
from resolver.pipeline import StoreLayout

__all__ = ["DATABASE_FILE", "ApiSettings", "load_settings"]
ENV_PREFIX = "CANBAO_API_"


class ApiSettings(BaseModel):
    """How `canbao serve` runs: which store, where it listens, and the request limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    store: str = Field(min_length=1, description="图谱库：文件夹 (embedded) 或 neo4j://… (the --store of `canbao run`)")
    work_dir: Path | None = Field(None, description="本地状态目录 local state folder (a Neo4j store's work dir)")
    host: str = Field("127.0.0.1", min_length=1, description="监听地址 listen address")
    port: int = Field(8000, ge=1, le=65535, description="监听端口 listen port")
    as_of: dt.date | None = Field(None, description="判定状态的基准日 reference date; default: the latest run's")
    max_body_bytes: int = Field(64 * 1024, ge=1024, le=8 * 1024 * 1024,
                                description="请求体上限（字节） request body limit in bytes")
    max_page: int = Field(200, ge=1, le=5000, description="每页最多行数 page size limit")
    flush_seconds: float = Field(5.0, ge=0, le=3600,
                                 description="变更写回匹配状态的合并延迟（秒，0 = 立即） delay before the resolver "
                                             "state is saved after a change (0 = at once)")
    matching: Path | None = Field(None, description="匹配配置 matching YAML (default resolver/config/matching.yaml)")
    sources: Path | None = Field(None, description="映射文件目录 folder of source mapping YAML files")
    graph_worker: bool = Field(True, description="嵌入式图库在受监护的工作进程中运行，崩溃只影响当次请求 (run the "
                                                 "embedded graph in a supervised worker process: a crash of the "
                                                 "database fails one request, not the service; off: in-process)")
    graph_worker_restarts: int = Field(5, ge=1, le=60,
                                       description="工作进程每分钟最多重启次数，超过则返回 503 (worker restarts "
                                                   "allowed per minute; beyond that graph calls answer 503 until the "
                                                   "minute has passed)")

    @model_validator(mode="after")
    def _store_has_a_run(self) -> ApiSettings:
        layout = self.layout
        if "://" not in self.store and not (Path(self.store) / "graph" / "CURRENT").is_file():
            raise ValueError(f"{self.store}: 不是已写入的库 (holds no landed run) — 先运行 "
                             f"`canbao run --input DIR --store {self.store}` (run the pipeline into it first)")
        if not (layout.state_dir / "state.json").is_file():
            raise ValueError(f"{layout.state_dir}: 没有匹配状态 (no resolver state) — 先运行 `canbao run` "
                             "(run the pipeline into this store first)")
        for name in ("matching", "sources"):
            path = getattr(self, name)
            if path is not None and not Path(path).exists():
                raise ValueError(f"{name}: {path} 不存在 (does not exist)")
        return self

    @property
    def layout(self) -> StoreLayout:
        return StoreLayout.for_store(self.store, self.work_dir)

    @property
    def database_file(self) -> Path:
        """The API's SQLite file: users, token hashes, the audit log, survey review states."""
        return self.layout.work_dir / DATABASE_FILE


def load_settings(values: Mapping[str, object] | None = None, env: Mapping[str, str] | None = None) -> ApiSettings:
    """Settings from ``values`` (e.g. command-line options) over CANBAO_API_* environment variables.

    Raises ConfigError naming every bad setting at once.
    """
    env = os.environ if env is None else env
    merged: dict[str, object] = {
        key[len(ENV_PREFIX):].lower(): value for key, value in env.items() if key.startswith(ENV_PREFIX)
    }
    merged.update({k: v for k, v in (values or {}).items() if v is not None})
    try:
        return ApiSettings.model_validate(merged)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"API 设置有误 (invalid API settings): {problems}") from None
