"""The canonical record: the one shape every department row becomes.

Ingestion turns each accepted input row into one row of a pandas DataFrame with
the columns below (missing ones are null). Everything downstream — blocking,
scoring, clustering, status, the graph — reads only these columns, so a new
department is a mapping file, never new code.

Conventions
- Dates are ``datetime64[ns]`` at midnight (pandas ``NaT`` when absent).
- Periods (所属期, 最近缴费月份) are ``YYYYMM`` strings.
- Gender is ``"M"`` / ``"F"`` (null when unknown).
- Several phones on one record are normalised and joined with ``|``.
- Addresses come in two roles, ``household`` (户籍) and ``residence``
  (常住/居住/家庭住址); each role has the parsed parts listed in ADDRESS_PARTS.
"""
from __future__ import annotations

# The 13 sources of shared/spec/department-extracts.md, in the spec's order.
SOURCES: tuple[str, ...] = (
    "police_resident",
    "police_permit",
    "civil_assistance",
    "civil_funeral",
    "tax_iit",
    "edu_student",
    "prison_inmate",
    "housing_fund",
    "hr_labour",
    "hr_foreign",
    "si_enrolment",
    "national_insured",
    "survey",
)

# 证件类型 → canonical certificate type. Only resident_id carries GB 11643 structure.
CERT_TYPES: dict[str, str] = {
    "居民身份证": "resident_id",
    "护照": "passport",
    "港澳居民来往内地通行证": "hk_macao_pass",
    "台湾居民来往大陆通行证": "taiwan_pass",
    "外国人永久居留身份证": "foreign_permanent_residence",
}

# Quality of an id_number. ``other_certificate`` marks passports and passes:
# kept as delivered (cleaned, upper-cased), never forced through GB 11643.
ID_STATUSES: tuple[str, ...] = (
    "valid",
    "converted_15",
    "bad_check_digit",
    "malformed",
    "missing",
    "other_certificate",
)
# Statuses whose id_number is a trustworthy 18-digit resident ID (deterministic linking).
TRUSTED_ID_STATUSES: frozenset[str] = frozenset({"valid", "converted_15"})

ADDRESS_ROLES: tuple[str, ...] = ("household", "residence")
# Parts of a parsed address; column name is f"{role}_{part}".
ADDRESS_PARTS: tuple[str, ...] = (
    "address_raw",       # the text as delivered
    "in_tianjin",        # True / False / null (unknown)
    "district_code",     # today's GB/T 2260 code, e.g. 120116 for 塘沽区
    "legacy_district",   # the pre-merger name when the text used one (塘沽区)
    "street",            # 街道/镇/乡 name, e.g. 华苑街道
    "community",         # 社区/村 name, e.g. 日华里社区 (the dictionary's, else read from the name's shape)
    "estate",            # 小区 name when it differs from the community's (日华里社区碧华园 → 碧华园)
    "road",              # 南京路
    "number",            # 100 (号)
    "building",          # 3 (号楼/栋)
    "unit",              # 2 (门/单元)
    "room",              # 401 (室)
)

# record_key = f"{source}:{record_id}" identifies a record everywhere (split on the first ':';
# record_id itself may be the "file:line" fallback of the spec).
KEY_COLUMNS: tuple[str, ...] = ("record_key", "source", "record_id", "file", "line", "period")

IDENTITY_COLUMNS: tuple[str, ...] = (
    "cert_type",         # see CERT_TYPES values
    "id_number_raw",
    "id_number",         # 18 digits for valid/converted_15/bad_check_digit; cleaned text otherwise
    "id_status",         # see ID_STATUSES
    "id_birth_date",     # derived from a resident ID
    "id_gender",         # derived from the 17th digit (15th of a legacy number)
    "id_area_code",      # first 6 digits: place of first registration, not the current address
    "name_raw",
    "name",              # display form: trimmed, half-width, simplified, dots unified to U+00B7
    "name_key",          # match key: simplified + variant fold, no dots/spaces; Latin: upper, tokens sorted
    "name_script",       # han / latin / mixed
    "surname",
    "given_name",
    "name_pinyin",       # toneless syllables, space separated, surname readings applied (单 → shan)
    "surname_pinyin",
    "name_pinyin_folded",  # zh/ch/sh→z/c/s, -ng→-n, n→l, v→u; for blocking and as a feature only
    "gender",
    "birth_date",
    "ethnicity",
    "nationality",
    "hukou_type",
    "phones",
)

# Department-specific attributes used by status rules, dispatch and the graph.
ATTRIBUTE_COLUMNS: tuple[str, ...] = (
    "employer_name",
    "employer_credit_code",
    "permit_issue_date",
    "permit_valid_until",
    "assistance_category",
    "assistance_date",
    "death_date",
    "tax_period",
    "income",
    "school_name",
    "school_stage",
    "guardian_name",
    "guardian_phone",
    "prison_name",
    "prison_entry_date",
    "prison_release_date",
    "fund_status",
    "fund_open_date",
    "fund_last_period",
    "hr_business_type",
    "hr_business_date",
    "hr_agency",
    "insurance_type",
    "enrolment_status",
    "first_enrolment_date",
    "last_payment_period",
    "insured_province_code",
    "insured_province_name",
    "national_status",
    "unenrolled_reason",
    "surveyor_id",
    "survey_date",
    "raw",               # JSON object of columns the mapping does not know, kept as delivered
)


def address_columns(role: str) -> list[str]:
    """Column names of one address role, e.g. household_district_code."""
    return [f"{role}_{part}" for part in ADDRESS_PARTS]


CANONICAL_COLUMNS: tuple[str, ...] = (
    KEY_COLUMNS
    + IDENTITY_COLUMNS
    + tuple(c for role in ADDRESS_ROLES for c in address_columns(role))
    + ATTRIBUTE_COLUMNS
)
