"""The API's typed boundary: one schema family per resource (…In for what callers send, …Out for answers).

Field descriptions are Chinese with English; they are what the OpenAPI docs at /docs show.
Identity fields in answers may be masked (api/masking.py): ``masked`` says so.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model, field_validator, model_validator
from pydantic_core import PydanticCustomError

from resolver.standardise.id_number import check_digit

# Text a person typed: no control characters (a CSV row or a log line must stay one line).
TEXT = r"^[^\x00-\x1f\x7f]*$"
# Text with something in it once surrounding whitespace is stripped (str.strip's whitespace, NEL included).
MEANINGFUL = r"[^\s\x85]"
# A resident ID number's shape (GB 11643): 18 characters, the last a digit or X, or a legacy 15-digit number.
# The check digit cannot be a pattern; where it matters the answer says so (see each field's description).
ID_NUMBER = r"^([0-9]{15}|[0-9]{17}[0-9Xx])$"
# A calendar date YYYY-MM-DD between 1900 and 2099, leap days included: every string matching it is a real date.
DATE = (r"(19|20)[0-9]{2}-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
        r"|(19(0[48]|[2468][048]|[13579][26])|20([02468][048]|[13579][26]))-02-29")
DATE_PATTERN = rf"^({DATE})$"
# A date, or a date and time (hh:mm[:ss[.ffffff]]) with an optional UTC offset (none: Beijing time).
DATE_TIME_PATTERN = (rf"^({DATE})([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{{1,6}})?)?"
                     r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?$")
# A month YYYY-MM, 1900-01 to 2099-12.
MONTH_PATTERN = r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$"
# A mobile number or a landline with its area code, optionally +86 in front.
PHONE = r"^(\+86)?(1[3-9][0-9]{9}|0[1-9][0-9]{8,10})$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- errors ---------------------------------------------------------------------------------

class FieldErrorOut(BaseModel):
    field: str = Field(description="出错的字段 the field, as the caller named it")
    message: str = Field(description="原因及改法（中文，附英文） what is wrong and how to fix it")


class ErrorDetailOut(BaseModel):
    status: int
    code: str = Field(description="机器可读的错误类别 machine-readable kind, e.g. validation_error")
    message: str
    fields: list[FieldErrorOut] = Field(default_factory=list)
    request_id: str = Field(description="请求编号，审计日志中可查 request id (also in the audit log)")


class ErrorOut(BaseModel):
    """The one error shape of every endpoint."""

    error: ErrorDetailOut


# --- persons --------------------------------------------------------------------------------

class PlaceOut(BaseModel):
    district_code: str | None = Field(None, description="派发区代码 dispatch district (art. 15)")
    district_name: str | None = None
    street: str | None = Field(None, description="街道/镇 street or town")
    community: str | None = Field(None, description="社区/村 community or village")


class StatusOut(BaseModel):
    status: str | None = Field(None, description="参保状态 DECEASED/EXEMPT_PRISONER/ENROLLED/OUT_OF_SCOPE/"
                                                  "INSURED_ELSEWHERE/UNENROLLED (MERGED: merged into another person)")
    label: str | None = Field(None, description="状态中文名 the status in Chinese")
    rule: str | None = Field(None, description="判定规则及条款 the rule and article that decided it")
    records: list[str] = Field(default_factory=list, description="决定状态的记录 record keys behind the status")
    flags: list[str] = Field(default_factory=list, description="标记 flags, e.g. TAXPAYER, SURVEYED, CONFLICT")
    flag_labels: list[str] = Field(default_factory=list)


class PersonOut(BaseModel):
    person_id: str
    name: str | None
    id_number: str | None = Field(description="身份证号（可能脱敏） ID number, masked unless allowed")
    gender: str | None
    birth_date: str | None = Field(description="出生日期（脱敏时仅年份） birth date (year only when masked)")
    status: StatusOut
    place: PlaceOut
    dispatch_reason: str | None = Field(None, description="无法定位的原因 why the person could not be placed")
    run_id: str | None = None
    masked: bool = Field(description="身份信息是否已脱敏 whether identity fields are masked")


class RecordOut(BaseModel):
    record_key: str
    source: str
    record_id: str
    match_probability: float | None
    method: str | None = Field(description="关联方式 id_number/probabilistic/steward/singleton")
    fields: dict[str, Any] = Field(description="记录字段（按权限脱敏） canonical fields, masked as allowed")


class RunOut(BaseModel):
    run_id: str
    as_of: dt.date | None
    landed_at: AwareDatetime | None = Field(None, description="写入图库的时间（含时区） when the run landed, "
                                                               "with its UTC offset (RFC 3339)")


class SchemeOut(BaseModel):
    """One si_enrolment record: a scheme the person holds (art. 7)."""

    scheme: str = Field(description="险种, e.g. 企业职工基本养老保险")
    state: str = Field(description="参保状态 正常参保/暂停缴费/终止参保")
    first_enrolment: str | None = Field(description="首次参保日期 YYYY-MM-DD")
    last_paid: str | None = Field(description="最近缴费月份 YYYYMM")
    with_employer: bool = Field(description="是否有参保单位 whether a unit pays (单位+个人) or the person alone")
    record_key: str


class PersonDetailOut(BaseModel):
    """A person's profile, records by source, and status with its provenance."""

    person: PersonOut
    records_by_source: dict[str, list[RecordOut]]
    status_evidence: list[str] = Field(description="决定状态的记录键 keys of the records that decided the status")
    open_matches: list[dict[str, Any]] = Field(description="待复核的疑似匹配 review-band pairs touching the person")
    run: RunOut | None
    schemes: list[SchemeOut] = Field(default_factory=list, description="参保险种 the person's schemes (art. 7)")


class ArrearsLineOut(BaseModel):
    period: str = Field(description="月份 YYYYMM（城乡居民险种为年份 YYYY）")
    rate: str | None = Field(description="费率 rate applied (individual + employer, or flexible)")
    base_low: str | None = Field(description="最低缴费基数或最低档次（元） lowest base or tier")
    amount_low: str | None
    base_high: str | None = Field(description="全口径平均工资或所选档次（元） average wage or chosen tier")
    amount_high: str | None
    missing: list[str] = Field(description="缺少的参数 figures the policy lacks for this line")


class SchemeArrearsOut(BaseModel):
    scheme: str
    state: str
    record_key: str
    last_paid: str | None
    payer: str = Field(description="单位+个人 / 灵活就业 / 城乡居民个人")
    first_month_owed: str | None
    months_owed: int
    months_beyond_window: int
    lines: list[ArrearsLineOut]
    total_low: str
    total_high: str
    complete_low: bool
    complete_high: bool
    missing: list[str]
    notes: list[str]


class ArrearsOut(BaseModel):
    """Back-payment estimate at the door (art. 26): the same numbers as `canbao explain` and `canbao arrears`."""

    person_id: str
    as_of: dt.date
    as_of_month: str
    schemes: list[SchemeOut] = Field(description="参保险种 every scheme record of the person")
    owed: list[SchemeArrearsOut] = Field(description="中断或终止的养老、医疗险种及测算 interrupted or lapsed schemes")
    total_low: str = Field(description="合计（最低基数/档次，元）; 不完整时为已知部分之和")
    total_high: str
    complete_low: bool
    complete_high: bool
    missing: list[str] = Field(description="缺少的参数 (missing figures); 测算不完整的原因")


IdNumberStatus = Literal["valid", "converted_15", "bad_check_digit", "malformed"]


class PersonSearchOut(BaseModel):
    items: list[PersonOut]
    hidden: int = Field(description="辖区外未显示的人数 persons outside the caller's area, not shown")
    id_number_status: IdNumberStatus = Field(
        description="号码校验结果 the number's GB 11643 verdict: valid / converted_15 (legacy 15 digits, upgraded) / "
                    "bad_check_digit (校验位错误) / malformed (出生日期等不成立); only valid numbers can be held by anyone")


# --- resolve --------------------------------------------------------------------------------

RESOLVE_FIELDS = ("name", "id_number", "phone", "address", "birth_date", "gender")
_FREE_TEXT = ("name", "address")    # the fields whose own pattern admits blank text


class ResolveIn(_In):
    """Identity fragments from the field: any of them; at least one (a free-text field counts when not blank)."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": [name], "properties": {name: {"type": "string", **({"pattern": MEANINGFUL} if name in _FREE_TEXT
                                                                         else {})}}}
        for name in RESOLVE_FIELDS]})

    name: str | None = Field(None, max_length=60, pattern=TEXT, description="姓名 name")
    id_number: str | None = Field(None, pattern=ID_NUMBER, description=(
        "公民身份号码 ID number, 18 characters (or a legacy 15-digit number). A number that fails GB 11643 (check "
        "digit, embedded birth date) is not used for matching: the answer's `warnings` name it"))
    phone: str | None = Field(None, pattern=PHONE, description="联系电话 phone: mobile 13812345678 or landline with "
                                                               "area code 02223456789, optionally +86 in front")
    address: str | None = Field(None, max_length=200, pattern=TEXT, description="地址（按常住地解析） address")
    birth_date: str | None = Field(None, pattern=DATE_PATTERN, description="出生日期 birth date YYYY-MM-DD, 1900-2099")
    gender: Literal["男", "女"] | None = Field(None, description="性别 男/女")
    limit: int = Field(5, ge=1, le=20, description="最多返回候选人数 maximum candidates")

    def has_identity(self) -> bool:
        """The rule the schema's anyOf states: at least one field given, free text not blank."""
        return any(getattr(self, name) is not None and (name not in _FREE_TEXT or re.search(MEANINGFUL, getattr(self, name)))
                   for name in RESOLVE_FIELDS)


class WaterfallStepOut(BaseModel):
    field: str
    level: str
    weight: float = Field(description="该字段的匹配权重（比特） match weight in bits")
    m: float | None = None
    u: float | None = None
    name_frequency: float | None = None


class ExplanationOut(BaseModel):
    """From the prior through each field's weight to the probability (the explanation waterfall)."""

    prior_weight: float
    fields: list[WaterfallStepOut]
    match_weight: float
    match_probability: float


class CandidateOut(BaseModel):
    person_id: str
    match_probability: float
    method: str = Field(description="id_number（有效身份证号相同）或 probabilistic")
    matched_record: str = Field(description="最相近的已存记录 the stored record that matched best")
    explanation: ExplanationOut
    person: PersonOut | None


class ResolveOut(BaseModel):
    decision: Literal["match", "review", "no_match"] = Field(
        description="match: 最佳候选≥自动关联阈值; review: 介于复核阈值与关联阈值之间; no_match: 无候选")
    accept_threshold: float
    review_threshold: float
    candidates: list[CandidateOut]
    warnings: list[FieldErrorOut] = Field(default_factory=list, description=(
        "未用于匹配的字段及原因 fields not used for matching and why (e.g. an ID number failing its check digit)"))


# --- work lists and changes -----------------------------------------------------------------

class WorklistRowOut(BaseModel):
    person_id: str
    name: str | None
    gender: str | None
    id_number: str | None = Field(description="脱敏身份证号 masked ID number")
    phone: str | None = Field(description="脱敏联系电话 masked phone")
    address: str | None = Field(description="派发所依据的地址（辖区内完整，否则到社区） dispatch address")
    district_code: str | None
    street: str | None
    community: str | None
    flags: str | None = Field(description="标记（中文） flags in Chinese")
    surveys_done: int
    last_survey_date: str | None
    last_survey_outcome: str | None


class WorklistOut(BaseModel):
    items: list[WorklistRowOut]
    total: int
    skip: int
    limit: int
    area: PlaceOut


class ChangeRowOut(BaseModel):
    person_id: str
    change: str = Field(description="NEWLY_UNENROLLED 新增调查对象 / ENROLLED / DIED / RELEASED / LEFT_WORKLIST / MOVED")
    change_label: str
    status_before: str | None
    status_after: str | None
    flags_after: str | None
    district_code_before: str | None
    street_before: str | None
    community_before: str | None
    district_code_after: str | None
    street_after: str | None
    community_after: str | None


class ChangesOut(BaseModel):
    since_run_id: str
    since_as_of: dt.date
    until_run_id: str
    until_as_of: dt.date
    counts: dict[str, int]
    items: list[ChangeRowOut]
    total: int
    skip: int
    limit: int


# --- surveys --------------------------------------------------------------------------------

# 公民身份号码: 18 characters (GB 11643: area, birth date YYYYMMDD, sequence, check character that may be X) or a
# legacy 15-digit number (birth date YYMMDD). The check character itself is verified by the validator below.
_MMDD = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
ID_NUMBER = rf"^(?:[0-9]{{6}}(?:18|19|20)[0-9]{{2}}{_MMDD}[0-9]{{3}}[0-9Xx]|[0-9]{{8}}{_MMDD}[0-9]{{3}})$"
# 联系电话: mobiles (1[3-9] + 9 digits), landlines with area code (0…), bare 8-digit Tianjin numbers, optionally
# +86; several separated by / , ; | or a space (resolver/standardise/phones.py).
_PHONE = r"(?:\+86)?(?:1[3-9][0-9]{9}|0[1-9][0-9]{8,10}|[2-9][0-9]{7})"
PHONES = rf"^{_PHONE}(?:[/,;| ]{_PHONE})*$"
# 调查日期 within the years the standardiser accepts (resolver/standardise/dates.py PLAUSIBLE_YEARS).
SURVEY_DATE = r"^(?:19[0-9]{2}|20[0-9]{2}|2100)-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"
# A name starts with a letter or a Chinese character (no digits, no "0"); then also ·, ., -, ' and spaces.
PERSON_NAME = r"^[A-Za-z\u3400-\u9fff][A-Za-z\u3400-\u9fff·.\-' ]*$"
# An address has at least one letter or Chinese character and no control characters.
ADDRESS = r"^[^\x00-\x1f\x7f]*[A-Za-z\u3400-\u9fff][^\x00-\x1f\x7f]*$"
SURVEY_ID = r"^[A-Za-z0-9_\-]{1,40}$"
IDENTIFIES = "须有姓名，并有有效的公民身份号码或可定位的常住地 (a name and a valid ID number or a placeable address)"
# Custom string formats of the upload schema: rules a pattern cannot state. A generated client reads their
# meaning from the field's description; api/contract/schemathesis_hooks.py gives the fuzzer their values.
ID_FORMAT = "gb11643"             # check character right (GB 11643 §6) and the embedded birth date a real day
ADDRESS_FORMAT = "tianjin-address"  # an address in Tianjin that the address parser places in a district
# The gender an ID number states: the 17th digit of an 18-character number (the 15th of a legacy 15-digit one)
# is odd for men, even for women.
ID_GENDERS = ((r"^[0-9]{16}[13579][0-9Xx]$", "男"), (r"^[0-9]{16}[02468][0-9Xx]$", "女"),
              (r"^[0-9]{14}[13579]$", "男"), (r"^[0-9]{14}[02468]$", "女"))
# Surveyors of record are the signed-in users; a field a client sends for it is refused with this hint.
SURVEYOR_OF_RECORD = ("调查员即登录用户，由服务记录，请删除此字段 (the surveyor of record is the signed-in user: "
                      "leave surveyor_id out)")
UNKNOWN_FIELD_HINTS = {"surveyor_id": SURVEYOR_OF_RECORD}


def _string_branch(prop: dict[str, Any]) -> dict[str, Any]:
    """The string alternative of an optional field's schema ({"anyOf": [{"type": "string", …}, {"type": "null"}]})."""
    return next(branch for branch in prop.get("anyOf", [prop]) if branch.get("type") == "string")


def _state_survey_rules(schema: dict[str, Any]) -> None:
    """The art. 19 rules beyond patterns, in the schema: the ID number's format, the gender it states (if/then),
    and, without an ID number, a residence address that places the person (format, if/then)."""
    _string_branch(schema["properties"]["id_number"])["format"] = ID_FORMAT
    has_id = {"required": ["id_number"], "properties": {"id_number": {"type": "string"}}}
    schema["anyOf"] = [has_id, {"required": ["residence_address"], "properties": {"residence_address": {
        "type": "string"}}}]
    schema["allOf"] = [
        *({"if": {"required": ["id_number"], "properties": {"id_number": {"type": "string", "pattern": pattern}}},
           "then": {"properties": {"gender": {"enum": [gender, None]}}}} for pattern, gender in ID_GENDERS),
        {"if": {"not": has_id}, "then": {"required": ["residence_address"], "properties": {"residence_address": {
            "type": "string", "format": ADDRESS_FORMAT}}}},
    ]


class SurveyInBase(_In):
    """A door-to-door survey (art. 19), as the survey app sends it; codes as in resolver/sources/survey.yaml.

    Art. 19 minimum: a name, a survey date, and an ID number (valid check digit) or a residence address that
    places the person in a district; an upload that identifies nobody is a 422 naming the fields. The gender
    must agree with the ID number. The schema states each rule (``_state_survey_rules``). The surveyor of record
    is the signed-in user, so the upload has no ``surveyor_id`` (sending one is a 422 naming it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_state_survey_rules)

    survey_id: str = Field(min_length=1, max_length=40, pattern=SURVEY_ID, description="调查编号")
    name: str = Field(min_length=1, max_length=60, pattern=PERSON_NAME, description="姓名（不能是数字） name")
    gender: Literal["男", "女"] | None = Field(None, description="性别 男/女；有身份证号时须与之相符（第 17 位奇数为男、"
                                                              "偶数为女，旧 15 位号看末位） must agree with the ID number")
    id_number: str | None = Field(None, min_length=15, max_length=18, pattern=ID_NUMBER, description=(
        f"公民身份号码（18 位，校验位须正确；或旧 15 位），格式 {ID_FORMAT}：GB 11643 校验位正确、所含出生日期为真实日期 "
        f"(format {ID_FORMAT}: the check character of GB 11643 §6 is right and the embedded birth date is a real "
        "day); with residence_address at least one of the two"))
    ethnicity: str | None = Field(None, min_length=1, max_length=20, pattern=TEXT, description="民族")
    phone: str | None = Field(None, min_length=8, max_length=60, pattern=PHONES,
                              description="联系电话：手机或带区号的固话，多个以 / 分隔 (mobile or landline; several "
                                          "separated by /)")
    employer_name: str | None = Field(None, min_length=1, max_length=100, pattern=TEXT, description="工作单位")
    hukou_type: str | None = Field(None, min_length=1, max_length=10, pattern=TEXT, description="户口性质")
    household_address: str | None = Field(None, min_length=2, max_length=200, pattern=ADDRESS, description="户籍地")
    residence_address: str | None = Field(None, min_length=2, max_length=200, pattern=ADDRESS,
                                          description=(
        f"常住地（决定所属区；无身份证号时须为可定位到天津某区的地址，格式 {ADDRESS_FORMAT}） residence, decides the "
        f"district; without an ID number it must be an address in Tianjin the address parser places in a district "
        f"(format {ADDRESS_FORMAT}); with one, an address it cannot place counts in the surveyor's district"))
    insurance_type: str | None = Field(None, min_length=1, max_length=40, pattern=TEXT, description="参保险种")
    unenrolled_reason: str | None = Field(None, min_length=1, max_length=20, pattern=TEXT, description="未参保原因")
    survey_date: dt.date = Field(json_schema_extra={"pattern": SURVEY_DATE},
                                 description="调查日期 YYYY-MM-DD（1900-2100，须为文本） survey date as text")

    @field_validator("survey_date", mode="before")
    @classmethod
    def _date_text(cls, value: object) -> object:
        """A number is not a date (pydantic would read 0 as 1970-01-01): only YYYY-MM-DD text."""
        if not isinstance(value, str) or not re.match(SURVEY_DATE, value.strip()):
            raise PydanticCustomError("canbao_date_text", "日期应为 1900-2100 年间的 YYYY-MM-DD 文本 "
                                                   "(date must be YYYY-MM-DD text, years 1900-2100)")
        return value.strip()

    @field_validator("id_number")
    @classmethod
    def _check_digit(cls, value: str | None) -> str | None:
        if value is not None and len(value) == 18 and check_digit(value[:17]) != value[17].upper():
            raise PydanticCustomError("canbao_id_check_digit", "公民身份号码校验位错误 (ID check digit wrong, GB 11643) "
                                                        "— 请核对证件 (check the card)")
        return value

    @model_validator(mode="after")
    def _identifies_someone(self) -> SurveyInBase:
        if self.id_number is None and self.residence_address is None:
            raise PydanticCustomError("canbao_identifies_nobody", IDENTIFIES, {"fields": "id_number,residence_address"})
        return self


def survey_in_model(code_lists: Mapping[str, Sequence[str]]) -> type[SurveyInBase]:
    """``SurveyIn`` with an enum for every field whose codes the survey mapping lists (户口性质, 未参保原因), so
    the schema states the same codes the validation applies; built when the app is created from its mapping."""
    fields: dict[str, Any] = {}
    for field, values in code_lists.items():
        base = SurveyInBase.model_fields[field]
        fields[field] = (Literal[tuple(values)] | None,  # type: ignore[valid-type]
                         Field(None, description=f"{base.description}：{'/'.join(values)}"))
    return create_model("SurveyIn", __base__=SurveyInBase, **fields)


class ReviewInBase(_In):
    """A review step of art. 20."""


class ApproveIn(ReviewInBase):
    action: Literal["approve"] = Field(description="approve 街道审核通过 (street centre; not the submitter)")


class ConfirmIn(ReviewInBase):
    action: Literal["confirm"] = Field(description="confirm 区确认 (district centre; neither submitter nor approver)")


class AgreeIn(ReviewInBase):
    action: Literal["agree"] = Field(description="agree 他区同意关联其辖区人员 (the centre of the district the "
                                                 "matched person belongs to agrees to the attachment)")


class ReturnIn(ReviewInBase):
    action: Literal["return"] = Field(description="return 退回调查员更正")
    reason: str = Field(min_length=1, max_length=500, pattern=TEXT, description="退回原因（必填） reason, required")


SurveyReviewIn = Annotated[ApproveIn | ConfirmIn | AgreeIn | ReturnIn, Field(discriminator="action")]


class SurveyEventOut(BaseModel):
    at: str
    actor: str
    role: str
    action: str
    state_after: str
    reason: str | None


class StatusChangeOut(BaseModel):
    person_id: str
    before: str | None
    after: str
    flags: list[str]
    merged_into: str | None = None


class SurveyOut(BaseModel):
    survey_id: str
    record_key: str
    state: Literal["submitted", "awaiting_other_district", "approved", "confirmed", "returned"]
    state_label: str
    other_district: str | None = Field(None, description="候选人所在的他区：其区社会保险中心须先同意 (the district of "
                                                         "the matched person, whose centre must agree first)")
    district_code: str | None
    street: str | None
    submitted_by: str
    submitted_at: str
    updated_at: str
    return_reason: str | None
    candidate_person: str | None = Field(description="提交时的最佳候选人（他区人员对本区不显示） best candidate when "
                                                     "submitted (hidden from a district the person is not in)")
    candidate_probability: float | None
    person_id: str | None = Field(description="确认后关联到的人员 the person it was attached to on confirmation")
    survey: dict[str, Any] = Field(description="提交的调查内容（按权限脱敏） the upload, masked as allowed")
    history: list[SurveyEventOut]
    replayed: bool = Field(False, description="重复提交，未做任何更改 a repeated upload that changed nothing")
    status_changes: list[StatusChangeOut] = Field(default_factory=list,
                                                  description="确认引起的状态变化 status changes the confirmation made")


class SurveyPageOut(BaseModel):
    items: list[SurveyOut]
    total: int
    skip: int
    limit: int


# --- review ---------------------------------------------------------------------------------

class ImpactOut(BaseModel):
    changes_status: bool | None = Field(description="判定为同一人是否会改变状态 would a match change a status "
                                                    "(null for a conflict: known once split)")
    score: int = Field(description="2 影响调查对象 / 1 影响其他状态 / 0 无 — the queue's first sort key")
    status_l: str | None
    status_r: str | None
    merged_status: str | None = Field(None, description="合并后的状态（详情中精确计算） status after a merge")


class ReviewItemOut(BaseModel):
    item_id: str = Field(description="条目编号（用于 GET/POST /v1/review/{item}） the item id")
    kind: Literal["pair", "conflict"]
    match_probability: float | None
    record_key_l: str | None
    record_key_r: str | None
    person_id_l: str | None
    person_id_r: str | None
    name_l: str | None
    name_r: str | None
    impact: ImpactOut
    reason: str | None = None


class ReviewQueueOut(BaseModel):
    items: list[ReviewItemOut]
    total: int
    skip: int
    limit: int


class ReviewDetailOut(BaseModel):
    item: ReviewItemOut
    explanation: ExplanationOut | None
    persons: list[PersonDetailOut]
    suggested_pairs: list[list[str]] = Field(
        default_factory=list, description="冲突条目：可判定的记录对 record pairs to decide on for a conflict")


Decision = Literal["match", "not_match", "unsure"]
RECORD_KEY = r"^[A-Za-z0-9_]{1,40}:[^\x00-\x1f\x7f]{1,160}$"


class DecisionIn(_In):
    """A steward's decision on an uncertain pair: the pair is the item itself."""

    decision: Decision = Field(description="match 同一人 / not_match 非同一人 / unsure 不确定")
    note: str = Field("", max_length=1000, pattern=TEXT, description="说明 note")


class ConflictDecisionIn(DecisionIn):
    """A steward's decision on a conflict: the two records it is about (a pair from the item's suggested_pairs,
    one of them the person's; 409 otherwise)."""

    record_key_l: str = Field(max_length=200, pattern=RECORD_KEY, description="记录键 source:record_id")
    record_key_r: str = Field(max_length=200, pattern=RECORD_KEY, description="另一条记录 the other record")


class DecisionOut(BaseModel):
    item_id: str
    decision: str
    record_key_l: str
    record_key_r: str
    status_changes: list[StatusChangeOut]
    seconds: float


# --- stats, queries, health, audit -----------------------------------------------------------

class StatsOut(BaseModel):
    month: str
    run_id: str
    as_of: dt.date
    previous_run_id: str | None
    definitions: list[str]
    districts: list[dict[str, Any]]
    streets: list[dict[str, Any]]
    ranking: list[dict[str, Any]]


class QueryParamOut(BaseModel):
    name: str
    kind: str
    default: str | int | float
    description: str
    minimum: int | float | None = Field(None, description="最小值（含）smallest accepted value, for numbers")
    maximum: int | float | None = Field(None, description="最大值（含）largest accepted value, for numbers")


class QueryInfoOut(BaseModel):
    name: str
    title: str
    description: str
    params: list[QueryParamOut]


class QueryResultOut(BaseModel):
    name: str
    columns: list[str]
    rows: list[dict[str, Any]]
    masked: bool


class HealthOut(BaseModel):
    status: Literal["ok"]
    store: Literal["embedded", "neo4j"] = Field(description="图库类型 store kind (never its folder or address)")
    graph_process: Literal["worker", "in_process", "server"] = Field(description=(
        "图库在哪个进程中运行 where the graph runs: a supervised worker process (embedded default), inside the "
        "service (--graph-in-process), or in its own server (Neo4j)"))
    graph_crashes: int = Field(ge=0, description="图库工作进程崩溃次数（自启动以来） graph worker crashes since start-up")
    run_id: str
    as_of: dt.date
    state_records: int
    pending_changes: int = Field(description="尚未写回匹配状态的变更数 changes not yet saved to the resolver state")
    last_flush: str | None
    uptime_s: float


class AuditEntryOut(BaseModel):
    seq: int
    at: str
    request_id: str
    user: str | None
    role: str | None
    district: str | None
    method: str
    endpoint: str
    path: str
    query: str | None = Field(description="查询串（如所查的身份证号） the query string, e.g. the ID number searched")
    status: int = Field(description="HTTP 状态；0 = 结果之前写入（命令行读取、拟执行的变更） 0: written before the "
                                    "outcome (a command-line read, an intended change); -1: malformed")
    persons: list[str]
    detail: dict[str, Any]
    malformed: list[str] = Field(description="伪造或损坏的字段 fields of a forged or damaged row")
