"""The follow-up ledger (台账) of each survey target (arts. 28-30): surveys done, outcome, reason, next step.

Built from the survey records linked to each UNENROLLED person; the next step comes from
the readable rule table in config/ledger_next_steps.yaml (validated on load).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

from resolver.configfile import config_text, parse_yaml, validate

DEFAULT_NEXT_STEPS_FILE = "ledger_next_steps.yaml"
# 未参保原因 codes of the survey app (shared/spec/department-extracts.md).
REASON_CODES: tuple[str, ...] = (
    "经济困难", "不了解政策", "灵活就业未参保", "单位未缴纳", "已在外省市参保", "在校学生", "服刑人员",
    "出国出境", "已死亡", "查无此人", "其他",
)
LEDGER_COLUMNS: list[str] = [
    "person_id", "name", "district_code", "street", "community", "flags", "surveys_done", "survey_history",
    "last_survey_date", "outcome", "reason", "next_step",
]
LEDGER_HEADERS: dict[str, str] = {
    "person_id": "人员编号", "name": "姓名", "district_code": "区代码", "street": "街道（镇）",
    "community": "社区（村）", "flags": "标记", "surveys_done": "已调查次数", "survey_history": "调查记录",
    "last_survey_date": "最近调查日期", "outcome": "调查结果", "reason": "未参保原因", "next_step": "下一步",
}


class NextSteps(BaseModel):
    """The rule table: a step when never surveyed, when the person says they are insured, per reason, else."""

    model_config = ConfigDict(extra="forbid")
    not_surveyed: str
    self_reported_insured: str
    no_reason_given: str
    by_reason: dict[str, str]

    @model_validator(mode="after")
    def _known_reasons(self) -> "NextSteps":
        unknown = sorted(set(self.by_reason) - set(REASON_CODES))
        if unknown:
            raise ValueError(f"by_reason names unknown 未参保原因 {unknown}; known: {', '.join(REASON_CODES)}")
        missing = [code for code in REASON_CODES if code not in self.by_reason]
        if missing:
            raise ValueError(f"by_reason lacks a next step for {missing}")
        return self


def load_next_steps(path: Path | None = None) -> NextSteps:
    """Read and validate the next-step table; errors name the file and the key."""
    text, origin = config_text(path, DEFAULT_NEXT_STEPS_FILE)
    return validate(NextSteps, parse_yaml(text, origin), origin, "台账下一步配置有误 (invalid next-step table)")


@dataclass(frozen=True)
class SurveyOutcome:
    """What the latest survey of a person found, as the ledger shows it."""

    outcome: str
    reason: str | None
    next_step: str


def survey_outcome(reason: str | None, insurance_type: str | None, steps: NextSteps) -> SurveyOutcome:
    """Outcome and next step of one person's latest survey (None, None: never surveyed is handled apart)."""
    if insurance_type:
        # The respondent named a 参保险种 the enrolment data does not show (art. 20: verify, then record).
        return SurveyOutcome(f"自报已参保（{insurance_type}）", reason, steps.self_reported_insured)
    if reason:
        return SurveyOutcome("未参保", reason, steps.by_reason[reason])
    return SurveyOutcome("已调查，未填原因", None, steps.no_reason_given)


def survey_summary(records: pd.DataFrame) -> pd.DataFrame:
    """Per person with survey records: surveys_done, survey_history text, and the latest survey's fields."""
    columns = ["person_id", "record_key", "survey_date", "unenrolled_reason", "insurance_type", "surveyor_id"]
    present = [c for c in columns if c in records.columns]
    surveys = records.loc[records["source"] == "survey", present].reindex(columns=columns)
    surveys = surveys.sort_values(["person_id", "survey_date", "record_key"], na_position="first", kind="stable")
    if surveys.empty:
        return pd.DataFrame({"surveys_done": pd.Series(dtype="int64"), "survey_history": pd.Series(dtype=object),
                             "last_survey_date": pd.Series(dtype="datetime64[ns]"),
                             "last_reason": pd.Series(dtype=object), "last_insurance_type": pd.Series(dtype=object)},
                            index=pd.Index([], name="person_id"))
    dates = pd.to_datetime(surveys["survey_date"], errors="coerce").dt.strftime("%Y-%m-%d").fillna("日期不详")
    entries = (dates + " " + surveys["unenrolled_reason"].fillna(surveys["insurance_type"].map(
        lambda t: f"自报已参保（{t}）" if isinstance(t, str) and t else "未填原因"))
        + surveys["surveyor_id"].map(lambda s: f"（调查员 {s}）" if isinstance(s, str) and s else ""))
    grouped = surveys.assign(entry=entries.to_numpy()).groupby("person_id", sort=False)
    latest = surveys.drop_duplicates("person_id", keep="last").set_index("person_id")
    return pd.DataFrame({
        "surveys_done": grouped.size(),
        "survey_history": grouped["entry"].agg("；".join),
        "last_survey_date": pd.to_datetime(latest["survey_date"], errors="coerce"),
        "last_reason": latest["unenrolled_reason"],
        "last_insurance_type": latest["insurance_type"],
    })


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def build_ledger(persons: pd.DataFrame, records: pd.DataFrame, steps: NextSteps,
                 flag_labels: dict[str, str]) -> pd.DataFrame:
    """One ledger row (LEDGER_COLUMNS) per UNENROLLED person, ordered by place."""
    targets = persons[persons["status"] == "UNENROLLED"].set_index("person_id")
    summary = survey_summary(records).reindex(targets.index)
    rows = []
    for person_id, target in targets.iterrows():
        surveyed = summary.loc[person_id]
        done = 0 if pd.isna(surveyed["surveys_done"]) else int(surveyed["surveys_done"])
        if done == 0:
            outcome = SurveyOutcome("未调查", None, steps.not_surveyed)
        else:
            outcome = survey_outcome(_text(surveyed["last_reason"]), _text(surveyed["last_insurance_type"]), steps)
        rows.append({
            "person_id": person_id, "name": target.get("name"), "district_code": target.get("district_code"),
            "street": target.get("street"), "community": target.get("community"),
            "flags": flag_text(target.get("flags"), flag_labels), "surveys_done": done,
            "survey_history": surveyed["survey_history"] if done else "",
            "last_survey_date": surveyed["last_survey_date"].strftime("%Y-%m-%d")
            if done and pd.notna(surveyed["last_survey_date"]) else None,
            "outcome": outcome.outcome, "reason": outcome.reason, "next_step": outcome.next_step,
        })
    ledger = pd.DataFrame(rows, columns=LEDGER_COLUMNS)
    return ledger.sort_values(["district_code", "street", "community", "person_id"], na_position="last",
                              kind="stable").reset_index(drop=True)


def flag_text(flags: object, labels: dict[str, str]) -> str:
    """'TAXPAYER|EMPLOYED' → '纳税人、就业' (codes without a label are kept as they are)."""
    if not isinstance(flags, str) or not flags:
        return ""
    return "、".join(labels.get(code, code) for code in flags.split("|"))
