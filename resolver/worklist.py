"""The survey team's work list (arts. 15, 29): UNENROLLED persons of an area with what a visit needs.

Pure: persons (with dispatch place) and their linked records go in; rows come out with
the masked ID, the address the person was placed by, a masked phone, flags in Chinese and
the previous survey's outcome. Persons who cannot be placed form the UNPLACED list, with why.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from resolver.ledger import flag_text, survey_summary
from resolver.standardise.id_number import mask_id_number
from resolver.standardise.phones import mask_phone

WORKLIST_HEADERS: dict[str, str] = {
    "district_code": "区代码", "district_name": "区", "street": "街道（镇）", "community": "社区（村）",
    "person_id": "人员编号", "name": "姓名", "gender": "性别", "id_number": "身份证号（脱敏）",
    "address": "地址", "phone": "联系电话（脱敏）", "flags": "标记", "surveys_done": "已调查次数",
    "last_survey_date": "上次调查日期", "last_survey_outcome": "上次调查结果（未参保原因）",
}
UNPLACED_HEADERS: dict[str, str] = {
    "person_id": "人员编号", "name": "姓名", "gender": "性别", "id_number": "身份证号（脱敏）",
    "phone": "联系电话（脱敏）", "flags": "标记", "reason": "无法定位原因", "addresses": "记录中的地址",
}
GENDER_LABELS = {"M": "男", "F": "女"}
# Whose phone a survey team tries first: the police register, then the latest survey, then the rest.
PHONE_AUTHORITY: tuple[str, ...] = (
    "police_resident", "police_permit", "survey", "hr_labour", "civil_assistance", "edu_student",
)


@dataclass(frozen=True)
class Area:
    """A district, optionally narrowed to a street and a community (names as the division data spells them)."""

    district_code: str
    street: str | None = None
    community: str | None = None

    def contains(self, persons: pd.DataFrame) -> np.ndarray:
        inside = (persons["district_code"] == self.district_code).to_numpy(dtype=bool)
        if self.street:
            inside &= (persons["street"] == self.street).to_numpy(dtype=bool)
        if self.community:
            inside &= (persons["community"] == self.community).to_numpy(dtype=bool)
        return inside


def dispatch_addresses(persons: pd.DataFrame, records: pd.DataFrame) -> pd.Series:
    """Per person, the address text the person was placed by (the address_record's matching role)."""
    by_key = records.drop_duplicates("record_key").set_index("record_key")
    keys = persons["address_record"]
    out = pd.Series(None, index=persons["person_id"].to_numpy(), dtype=object)
    for role in ("household", "residence"):  # residence last: it wins when both roles match
        if f"{role}_address_raw" not in by_key.columns:
            continue
        matches = np.ones(len(persons), dtype=bool)
        for part in ("district_code", "street", "community"):
            theirs = by_key[f"{role}_{part}"].reindex(keys).to_numpy(dtype=object)
            ours = persons[part].to_numpy(dtype=object)
            matches &= (theirs == ours) | (pd.isna(theirs) & pd.isna(ours))
        text = by_key[f"{role}_address_raw"].reindex(keys).to_numpy(dtype=object)
        matches &= ~pd.isna(text) & keys.notna().to_numpy()
        out[matches] = text[matches]
    return out


def contact_phones(records: pd.DataFrame) -> pd.Series:
    """Per person, the distinct phones of its records ('|'-joined), most authoritative and latest first."""
    phones = records.loc[records["phones"].notna() & (records["phones"] != ""), ["person_id", "source", "period",
                                                                                   "phones"]]
    authority = {source: rank for rank, source in enumerate(PHONE_AUTHORITY)}
    phones = phones.assign(_rank=phones["source"].map(authority).fillna(len(authority)),
                           phone=phones["phones"].str.split("|")).explode("phone")
    phones = phones.sort_values(["person_id", "_rank", "period"], ascending=[True, True, False], kind="stable")
    distinct = phones.drop_duplicates(["person_id", "phone"])
    return distinct.groupby("person_id", sort=False)["phone"].agg("|".join)


def _identity_columns(targets: pd.DataFrame, records: pd.DataFrame, flag_labels: dict[str, str]) -> pd.DataFrame:
    phones = contact_phones(records[records["person_id"].isin(targets["person_id"])])
    return pd.DataFrame({
        "person_id": targets["person_id"].to_numpy(),
        "name": targets["name"].to_numpy(),
        "gender": targets["gender"].map(GENDER_LABELS).to_numpy(),
        "id_number": targets["id_number"].map(mask_id_number, na_action="ignore").to_numpy(),
        "phone": phones.reindex(targets["person_id"]).map(mask_phone, na_action="ignore").to_numpy(),
        "flags": targets["flags"].map(lambda f: flag_text(f, flag_labels)).to_numpy(),
    })


def build_worklist(persons: pd.DataFrame, records: pd.DataFrame, area: Area, flag_labels: dict[str, str],
                   district_names: dict[str, str] | None = None) -> pd.DataFrame:
    """Work-list rows (WORKLIST_HEADERS keys) of the area's UNENROLLED persons, ordered street → community → address."""
    targets = persons[(persons["status"] == "UNENROLLED").to_numpy() & area.contains(persons)].reset_index(drop=True)
    own = records[records["person_id"].isin(targets["person_id"])]
    rows = _identity_columns(targets, own, flag_labels)
    surveys = survey_summary(own).reindex(targets["person_id"])
    rows["district_code"] = targets["district_code"].to_numpy()
    rows["district_name"] = targets["district_code"].map(district_names or {}).to_numpy()
    rows["street"] = targets["street"].to_numpy()
    rows["community"] = targets["community"].to_numpy()
    rows["address"] = dispatch_addresses(targets, own).to_numpy()
    rows["surveys_done"] = surveys["surveys_done"].fillna(0).astype(int).to_numpy()
    rows["last_survey_date"] = surveys["last_survey_date"].dt.strftime("%Y-%m-%d").to_numpy()
    rows["last_survey_outcome"] = _outcome_text(surveys).to_numpy()
    rows = rows[list(WORKLIST_HEADERS)]
    return rows.sort_values(["street", "community", "address", "person_id"], na_position="last",
                            kind="stable").reset_index(drop=True)


def _outcome_text(surveys: pd.DataFrame) -> pd.Series:
    insured = surveys["last_insurance_type"].map(lambda t: f"自报已参保（{t}）" if isinstance(t, str) and t else None)
    reason = surveys["last_reason"].where(surveys["last_reason"].notna(), insured)
    return reason.where(reason.notna() | surveys["surveys_done"].isna(), "未填原因")


def build_unplaced(persons: pd.DataFrame, records: pd.DataFrame, flag_labels: dict[str, str]) -> pd.DataFrame:
    """UNPLACED rows (UNPLACED_HEADERS keys): UNENROLLED persons no address could place, with the reason."""
    targets = persons[(persons["status"] == "UNENROLLED") & persons["district_code"].isna()].reset_index(drop=True)
    own = records[records["person_id"].isin(targets["person_id"])]
    rows = _identity_columns(targets, own, flag_labels)
    rows["reason"] = targets["dispatch_reason"].to_numpy()
    rows["addresses"] = _addresses_seen(own).reindex(targets["person_id"]).to_numpy()
    return rows[list(UNPLACED_HEADERS)].sort_values("person_id", kind="stable").reset_index(drop=True)


def _addresses_seen(records: pd.DataFrame) -> pd.Series:
    parts = [records[["person_id", f"{role}_address_raw"]].set_axis(["person_id", "address"], axis=1)
             for role in ("residence", "household") if f"{role}_address_raw" in records.columns]
    if not parts:
        return pd.Series(dtype=object)
    seen = pd.concat(parts).dropna().drop_duplicates()
    return seen.groupby("person_id")["address"].agg("；".join)


def with_headers(rows: pd.DataFrame, headers: dict[str, str]) -> pd.DataFrame:
    """The rows with Chinese column headers, for the file a survey team opens."""
    return rows[list(headers)].rename(columns=headers)
