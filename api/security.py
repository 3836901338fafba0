"""Who may call the API and see what (arts. 31-33): roles, bearer tokens stored hashed, district scope.

    surveyor            入户调查员: submits surveys, resolves, reads persons — own district only
    street_reviewer     街道劳动保障服务中心: approves or returns surveys of its district (street, if set)
    district_reviewer   区社会保险中心: confirms or returns approved surveys of its district
    steward             数据管理员: the review queue and its decisions, citywide, unmasked
    analyst             分析人员: aggregates, named queries and masked rows, citywide
    admin               管理员: everything, and the audit log

A token is shown once when `canbao user add` makes it; only its SHA-256 is stored.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import sqlite3
from dataclasses import dataclass
from enum import Enum

from api.database import Database
from graph.model import DISTRICT_NAMES
from resolver.errors import InputError

TOKEN_PREFIX = "cbk_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{2,64}$")


class Role(str, Enum):
    """A caller's role; the value is what `canbao user add --role` takes."""

    surveyor = "surveyor"
    street_reviewer = "street_reviewer"
    district_reviewer = "district_reviewer"
    steward = "steward"
    analyst = "analyst"
    admin = "admin"


ROLE_LABELS: dict[Role, str] = {
    Role.surveyor: "入户调查员", Role.street_reviewer: "街道劳动保障服务中心审核员",
    Role.district_reviewer: "区社会保险中心确认员", Role.steward: "数据管理员", Role.analyst: "分析人员",
    Role.admin: "管理员",
}
# Roles bound to one district: they see and act on that district only.
DISTRICT_ROLES: frozenset[Role] = frozenset({Role.surveyor, Role.street_reviewer, Role.district_reviewer})
# Roles that see unmasked personal data citywide.
CITYWIDE_UNMASKED: frozenset[Role] = frozenset({Role.steward, Role.admin})


@dataclass(frozen=True)
class Caller:
    """The authenticated user of a request."""

    name: str
    role: Role
    district: str | None = None
    street: str | None = None

    def covers(self, district_code: str | None, street: str | None = None) -> bool:
        """True when the place is within the caller's area (citywide roles cover every place)."""
        if self.role not in DISTRICT_ROLES:
            return True
        if not district_code or district_code != self.district:
            return False
        return not (self.role is Role.street_reviewer and self.street and street != self.street)

    def may_unmask(self, district_code: str | None, street: str | None = None) -> bool:
        """Full ID numbers, phones and addresses: stewards and admins everywhere, district roles in their area,
        analysts never (art. 33: the least personal data each duty needs)."""
        if self.role in CITYWIDE_UNMASKED:
            return True
        return self.role in DISTRICT_ROLES and self.covers(district_code, street)


@dataclass(frozen=True)
class UserInfo:
    """A user as `canbao user list` shows it (never the token)."""

    name: str
    role: Role
    district: str | None
    street: str | None
    created_at: str
    active: bool


def new_token() -> str:
    """A fresh bearer token: 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 of a token. The tokens are 256-bit random, so a fast hash suffices (nothing to guess from a
    dictionary); storing only hashes means a copy of api.sqlite grants no access."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_user(name: str, role: str, district: str | None, street: str | None) -> tuple[Role, str | None, str | None]:
    """Validate `canbao user add` input, naming every problem at once."""
    problems = []
    if not NAME_PATTERN.match(name or ""):
        problems.append(f"--name {name!r}: 2-64 个字母、数字、汉字或 _.- (2-64 letters, digits, Chinese, _.-)")
    try:
        parsed = Role(role)
    except ValueError:
        problems.append(f"--role {role!r}: 应为 (must be one of) {', '.join(r.value for r in Role)}")
        parsed = None
    if parsed in DISTRICT_ROLES and not district:
        problems.append(f"--district: 角色 {role} 须指定所属区 (role {role} needs its district), e.g. 120104")
    if district and district not in DISTRICT_NAMES:
        problems.append(f"--district {district!r}: 不是天津的区代码 (not a Tianjin district code); "
                        f"可用 (known): {', '.join(DISTRICT_NAMES)}")
    if parsed is not None and parsed not in DISTRICT_ROLES and (district or street):
        problems.append(f"--district/--street: 角色 {role} 为全市范围，不设区 (role {role} is citywide)")
    if street and parsed is not Role.street_reviewer:
        problems.append("--street: 仅街道审核员可限定街道 (only a street_reviewer is bound to a street)")
    if problems:
        raise InputError("; ".join(problems))
    return parsed, district or None, street or None  # type: ignore[return-value]


class Users:
    """The user table: add, list, authenticate."""

    def __init__(self, database: Database):
        self.database = database

    def add(self, name: str, role: str, district: str | None = None, street: str | None = None) -> str:
        """Create a user and return its token (shown once; only the hash is kept)."""
        parsed, district, street = check_user(name, role, district, street)
        token = new_token()
        try:
            with self.database.transaction() as conn:
                conn.execute(
                    "INSERT INTO users (name, role, district, street, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (name, parsed.value, district, street, hash_token(token),
                     dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")))
        except sqlite3.IntegrityError:
            raise InputError(f"--name {name!r}: 用户已存在 (user exists) — 换一个名字 (choose another name)") from None
        return token

    def list(self) -> list[UserInfo]:
        rows = self.database.query("SELECT name, role, district, street, created_at, active FROM users ORDER BY name")
        return [UserInfo(r["name"], Role(r["role"]), r["district"], r["street"], r["created_at"], bool(r["active"]))
                for r in rows]

    def authenticate(self, token: str) -> Caller | None:
        """The active user holding ``token``, or None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        rows = self.database.query(
            "SELECT name, role, district, street FROM users WHERE token_hash = ? AND active = 1", (hash_token(token),))
        if not rows:
            return None
        row = rows[0]
        return Caller(name=row["name"], role=Role(row["role"]), district=row["district"], street=row["street"])
