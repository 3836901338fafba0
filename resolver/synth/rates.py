"""The generator's rates: one typed, validated object read from rates.yaml (plus a user override)."""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from resolver.configfile import parse_yaml, validate
from resolver.errors import ConfigError
from resolver.schema import SOURCES

DEFAULT_RATES_FILE = "rates.yaml"

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Weight = Annotated[float, Field(ge=0.0)]
GROUPS: tuple[str, ...] = (
    "tianjin_resident", "tianjin_elsewhere", "permit_holder", "migrant_no_permit", "foreign_worker",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _weights(keys: tuple[str, ...] | None = None):
    """A validator for a weight table: positive total and, when given, exactly these keys."""

    def check(value: dict[Any, float]) -> dict[Any, float]:
        if keys is not None and set(map(str, value)) != set(keys):
            raise ValueError(f"需要且只需要这些键 (keys must be exactly) {', '.join(keys)}")
        if sum(value.values()) <= 0:
            raise ValueError("权重之和必须大于 0 (weights must not all be zero)")
        return value

    return check


class PopulationRates(_Strict):
    groups: dict[str, Weight]
    household_sizes: dict[int, Weight]
    district_shares: dict[str, Weight]
    separated_household_address: Share
    born_in_home_district: Share
    employed_working_age: Share
    landline_households: Share
    mobile_adults: Share
    hukou_types: dict[str, Weight]
    ethnicities: dict[str, Weight]
    rare_character_names: Share
    new_community_names: Share

    _groups = field_validator("groups")(_weights(GROUPS))
    _sizes = field_validator("household_sizes")(_weights(("1", "2", "3", "4", "5")))
    _districts = field_validator("district_shares")(_weights())
    _hukou = field_validator("hukou_types")(_weights(("居民", "非农业", "农业")))

    @field_validator("ethnicities")
    @classmethod
    def _has_han(cls, value: dict[str, float]) -> dict[str, float]:
        _weights()(value)
        if "汉族" not in value or "维吾尔族" not in value:
            raise ValueError("需要 汉族 和 维吾尔族 两个键 (must name 汉族 and 维吾尔族)")
        return value


class CoverageRates(_Strict):
    police_resident: Share
    police_resident_migrants: Share
    police_resident_no_residence: Share
    permit_expired: Share
    permit_renewed: Share
    civil_assistance: Share
    deaths: Share
    taxpayers: Share
    tax_months: Annotated[int, Field(ge=1, le=12)]
    tax_month_present: Share
    tax_former: Share
    students: dict[str, Share]
    prisoners: Share
    prisoners_released: Share
    housing_fund: Share
    hr_labour: Share
    hr_labour_unemployed: Share
    enrolled: dict[str, Share]
    enrolment_suspended: Share
    enrolment_terminated: Share
    si_later_period: Share
    si_injury_only: Share
    national_insured: dict[str, Share]
    national_insured_tianjin_copy: Share
    national_active: Share
    surveyed: Share

    _students = field_validator("students")(_weights(("幼儿园", "小学", "初中", "高中", "中职", "高校")))
    _enrolled = field_validator("enrolled", "national_insured")(_weights(GROUPS[:4]))


class HardCaseRates(_Strict):
    minimum_each: Annotated[int, Field(ge=0, le=1000)]
    twin_pairs: Share
    common_name_groups: Share
    valid_id_typo: Share
    valid_id_keyed_wrong: Share
    household_member_number: Share
    missing_id: Share
    minority_dot_names: Share


class IdNumberRates(_Strict):
    lowercase_x: Share
    fullwidth: Share
    spaced: Share
    legacy_15: Share
    wrong_check_digit: Share
    empty: Share
    empty_by_source: dict[str, Share]
    passport_lowercase: Share

    @field_validator("empty_by_source")
    @classmethod
    def _known_sources(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(SOURCES))
        if unknown:
            raise ValueError(f"未知数据源 (unknown source) {', '.join(unknown)}; known: {', '.join(SOURCES)}")
        return value


class NameRates(_Strict):
    spaces: Share
    traditional: Share
    homophone: Share
    other_dot: Share
    latin_variant: Share


class AddressRates(_Strict):
    city_prefix: dict[str, Weight]
    short_district: Share
    legacy_district: Share
    no_street_suffix: Share
    no_community_suffix: Share
    unit_formats: dict[str, Weight]

    _prefix = field_validator("city_prefix")(_weights(("天津市", "天津", "none")))
    _units = field_validator("unit_formats")(_weights(("dash", "hao_men", "dong_danyuan")))


class DirtyRates(_Strict):
    id_number: IdNumberRates
    name: NameRates
    date_formats: dict[str, Weight]
    period_formats: dict[str, Weight]
    xlsx_dates: dict[str, Weight]
    gender_formats: dict[str, Weight]
    phone_formats: dict[str, Weight]
    address: AddressRates

    _dates = field_validator("date_formats")(_weights(("iso", "slash", "compact", "chinese")))
    _periods = field_validator("period_formats")(_weights(("compact", "dash", "chinese")))
    _xlsx = field_validator("xlsx_dates")(_weights(("date_cell", "serial_number")))
    _genders = field_validator("gender_formats")(_weights(("chinese", "digit", "letter")))
    _phones = field_validator("phone_formats")(
        _weights(("plain", "plus86", "prefix0086", "several", "landline_dash", "landline_8"))
    )


class RecordIdRates(_Strict):
    empty: Share
    duplicated: Share


class BadRowRate(_Strict):
    rate: Share
    minimum: Annotated[int, Field(ge=0, le=1000)]
    sources: list[str]


class BadRowRates(_Strict):
    empty_identity: BadRowRate
    bad_date: BadRowRate
    unknown_status: BadRowRate

    @field_validator("bad_date")
    @classmethod
    def _date_sources(cls, value: BadRowRate) -> BadRowRate:
        allowed = {"prison_inmate", "police_permit"}
        if not set(value.sources) <= allowed:
            raise ValueError(f"bad_date 只用于有状态关键日期的数据源 (only sources with a status date): {sorted(allowed)}")
        return value

    @field_validator("unknown_status")
    @classmethod
    def _status_sources(cls, value: BadRowRate) -> BadRowRate:
        allowed = {"si_enrolment", "national_insured"}
        if not set(value.sources) <= allowed:
            raise ValueError(f"unknown_status 只用于有参保状态的数据源 (only sources with 参保状态): {sorted(allowed)}")
        return value

    @field_validator("empty_identity")
    @classmethod
    def _identity_sources(cls, value: BadRowRate) -> BadRowRate:
        unknown = sorted(set(value.sources) - set(SOURCES))
        if unknown:
            raise ValueError(f"未知数据源 (unknown source) {', '.join(unknown)}")
        return value


class FileRates(_Strict):
    encodings: dict[str, Weight]
    xlsx_sources: list[str]
    extra_column_files: Annotated[int, Field(ge=0, le=20)]

    _encodings = field_validator("encodings")(_weights(("utf-8", "utf-8-sig", "gbk")))

    @field_validator("xlsx_sources")
    @classmethod
    def _known_sources(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(SOURCES))
        if unknown:
            raise ValueError(f"未知数据源 (unknown source) {', '.join(unknown)}")
        return value


class SynthRates(_Strict):
    """Every rate of the generator (see rates.yaml for what each one means)."""

    population: PopulationRates
    coverage: CoverageRates
    hard_cases: HardCaseRates
    dirty: DirtyRates
    record_ids: RecordIdRates
    bad_rows: BadRowRates
    files: FileRates


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base``, nested tables merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(text: str, origin: str) -> dict[str, Any]:
    data = parse_yaml(text, origin)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: 顶层应为键值表 (the top level must be a mapping of keys)")
    return data


def default_rates_text() -> str:
    """The packaged rates.yaml, comments included (for `canbao generate --show-rates`)."""
    return resources.files("resolver.synth").joinpath(DEFAULT_RATES_FILE).read_text("utf-8")


def load_rates(path: Path | None = None) -> SynthRates:
    """The default rates, with the keys of ``path`` (if given) laid over them; errors name file and key."""
    data = _read_yaml(default_rates_text(), f"resolver/synth/{DEFAULT_RATES_FILE}")
    origin = f"resolver/synth/{DEFAULT_RATES_FILE}"
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text("utf-8")
        except OSError as error:
            raise ConfigError(f"{path}: 无法读取比例文件 (cannot read the rates file): {error.strerror}") from error
        data = _merge(data, _read_yaml(text, str(path)))
        origin = str(path)
    return validate(SynthRates, data, origin, "生成比例配置有误 (invalid generator rates)")
