"""The synthetic Tianjin population generator: files per the extract spec, dirty variants, truth."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from resolver.divisions import load_divisions
from resolver.errors import ConfigError
from resolver.schema import SOURCES
from resolver.synth import generate, load_rates
from resolver.synth.identity import (
    with_keyed_wrong_sequence,
    check_character, is_valid, make_id_numbers, to_legacy_15, with_valid_typo, with_wrong_check,
)
from resolver.synth.population import build_population
from resolver.synth.truth import HARD_CASE_TAGS, resolve_record_ids
from resolver.synth.writers import write_csv

AS_OF = dt.date(2026, 11, 28)
SEED = 20261128
PERSONS = 3000
SOURCES_DIR = Path(__file__).resolve().parents[1] / "resolver" / "sources"
ID_HEADERS = ("公民身份号码", "身份证号", "身份证号码", "证件号码", "身份证件号", "社会保障号码")
DATE_HEADERS = ("出生日期", "签发日期", "有效期至", "认定日期", "入监日期", "刑满日期", "开户日期", "办理日期",
                "首次参保日期", "调查日期")
PERIOD_HEADERS = ("所属期", "最近缴存月份", "最近缴费月份")
ADDRESS_HEADERS = ("户籍地址", "常住地址", "居住地址", "家庭地址", "家庭住址", "户籍地", "常住地")


# ---------------------------------------------------------------- fixtures and readers

@pytest.fixture(scope="module")
def rates_file(tmp_path_factory) -> Path:
    """An override a tester would write: more Uyghur households, so that dotted names surely appear."""
    path = tmp_path_factory.mktemp("rates") / "more_minorities.yaml"
    path.write_text(
        "population:\n  ethnicities: {汉族: 0.90, 回族: 0.03, 满族: 0.01, 蒙古族: 0.01, 朝鲜族: 0.01, 维吾尔族: 0.04}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def city(tmp_path_factory, rates_file) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate(PERSONS, SEED, AS_OF, out, rates=load_rates(rates_file))
    return out


@pytest.fixture(scope="module")
def manifest(city) -> dict:
    return json.loads((city / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tables(city, manifest) -> dict[str, list[list[object]]]:
    """Every file as a list of rows (header first), read with the declared encoding."""
    return {entry["file"]: _read(city / entry["file"], entry["encoding"]) for entry in manifest["files"]}


@pytest.fixture(scope="module")
def persons(city) -> pd.DataFrame:
    return pd.read_csv(city / "truth" / "persons.csv", dtype=str, keep_default_na=False)


def _read(path: Path, encoding: str) -> list[list[object]]:
    if encoding == "xlsx":
        from python_calamine import CalamineWorkbook

        return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python(skip_empty_area=False)
    text = path.read_bytes().decode(encoding)
    return list(csv.reader(io.StringIO(text, newline="")))


def _column(tables, header: str, sources: tuple[str, ...] | None = None) -> list[object]:
    values: list[object] = []
    for name, rows in tables.items():
        if sources and not name.startswith(sources):
            continue
        if header in rows[0]:
            at = rows[0].index(header)
            values.extend(row[at] for row in rows[1:])
    return values


def _texts(tables, headers) -> list[str]:
    return [v for h in headers for v in _column(tables, h) if isinstance(v, str) and v]


# ---------------------------------------------------------------- GB 11643 numbers

def test_check_digits_match_the_standards_own_examples():
    ids = make_id_numbers(np.array([110105, 440524]), np.array(["1949-12-31", "1880-01-01"], dtype="datetime64[D]"),
                          np.array([2, 1]))
    assert list(ids) == ["11010519491231002X", "440524188001010014"]


def test_a_valid_typo_is_another_valid_number_with_the_same_birth_date_and_gender():
    rng = np.random.default_rng(1)
    original = "120104197001011239"
    typo = with_valid_typo(original, rng)
    assert typo != original and is_valid(typo)
    assert typo[6:14] == original[6:14] and int(typo[16]) % 2 == int(original[16]) % 2


def test_a_wrong_check_digit_typo_never_validates():
    rng = np.random.default_rng(2)
    assert not any(is_valid(with_wrong_check("120104197001011239", rng)) for _ in range(50))


def test_the_legacy_form_converts_back_to_the_same_number():
    number = "120104197001011239"
    legacy = to_legacy_15(number)
    assert legacy == "120104700101123"
    body = legacy[:6] + "19" + legacy[6:]
    assert body + check_character(body) == number


# ---------------------------------------------------------------- rates

def test_default_rates_load_and_override_keeps_other_keys(rates_file):
    rates = load_rates(rates_file)
    assert rates.population.ethnicities["维吾尔族"] == 0.04
    assert rates.dirty.id_number.fullwidth == load_rates(None).dirty.id_number.fullwidth


def test_rate_errors_name_the_file_and_the_key(tmp_path):
    path = tmp_path / "rates.yaml"
    path.write_text("dirty:\n  id_number:\n    fullwidth: 1.5\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_rates(path)
    assert str(path) in str(error.value) and "dirty.id_number.fullwidth" in str(error.value)


def test_an_unknown_rate_key_is_refused(tmp_path):
    path = tmp_path / "rates.yaml"
    path.write_text("coverage:\n  police_residents: 0.9\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="coverage.police_residents"):
        load_rates(path)


# ---------------------------------------------------------------- population

def test_the_age_pyramid_and_district_shares_look_like_tianjin():
    pop = build_population(20_000, AS_OF, load_rates(None), load_divisions(), np.random.default_rng(3))
    age = pop.age
    assert 0.10 < (age <= 14).mean() < 0.18          # census 2020: 13.5 %
    assert 0.18 < (age >= 60).mean() < 0.27          # census 2020: 21.7 %
    homes = pop.addresses.district_code[pop.residence_address[pop.residence_address >= 0]]
    shares = Counter(homes)
    assert shares.most_common(1)[0][0] == "120116"   # 滨海新区 is the largest district
    assert shares["120101"] < shares["120111"]       # 和平 is small, 西青 large


def test_household_members_share_a_home_and_children_the_family_surname():
    pop = build_population(5_000, AS_OF, load_rates(None), load_divisions(), np.random.default_rng(4))
    frame = pd.DataFrame({"household": pop.household, "home": pop.residence_address})
    assert (frame.groupby("household")["home"].nunique() == 1).all()
    assert set(Counter(pop.household).values()) <= {1, 2, 3, 4, 5}


def test_resident_ids_agree_with_birth_date_and_gender(persons):
    resident = persons[persons["id_number"].str.len() == 18]
    assert resident["id_number"].map(is_valid).all()
    assert (resident["id_number"].str[6:14] == resident["birth_date"].str.replace("-", "")).all()
    odd = resident["id_number"].str[16].astype(int) % 2 == 1
    assert ((resident["gender"] == "M") == odd).all()


# ---------------------------------------------------------------- files per the spec

def test_every_source_is_delivered_with_the_headers_of_its_mapping(manifest, tables):
    delivered = {entry["source"] for entry in manifest["files"]}
    assert delivered == set(SOURCES)
    for entry in manifest["files"]:
        mapping = yaml.safe_load((SOURCES_DIR / f"{entry['source']}.yaml").read_text(encoding="utf-8"))
        header = [h for h in tables[entry["file"]][0] if h not in entry["extra_columns"]]
        assert header == [mapping["record_id"], *mapping["columns"]], entry["file"]


def test_file_names_are_source_and_period(manifest):
    for entry in manifest["files"]:
        assert re.fullmatch(rf"{entry['source']}_\d{{6}}\.(csv|xlsx)", entry["file"])
        assert entry["file"].endswith(".xlsx") == (entry["encoding"] == "xlsx")


def test_tax_returns_come_monthly_with_distinct_serial_numbers(manifest, tables):
    tax_files = [e["file"] for e in manifest["files"] if e["source"] == "tax_iit"]
    assert len(tax_files) >= 3
    serials = [s for s in _column(tables, "申报流水号", ("tax_iit",)) if s]
    assert len(serials) == len(set(serials)) + _repeated_within_files(tables, "tax_iit", "申报流水号")


def test_enrolment_numbers_never_repeat_across_periods(manifest, tables):
    files = [e["file"] for e in manifest["files"] if e["source"] == "si_enrolment"]
    assert len(files) == 2
    first, second = ({row[0] for row in tables[f][1:] if row[0]} for f in files)
    assert not first & second


def _repeated_within_files(tables, source, header) -> int:
    extra = 0
    for name, rows in tables.items():
        if name.startswith(source):
            at = rows[0].index(header)
            counts = Counter(row[at] for row in rows[1:] if row[at])
            extra += sum(c - 1 for c in counts.values())
    return extra


def test_one_or_two_sources_are_workbooks_with_excel_dates(manifest, tables):
    workbooks = [e["file"] for e in manifest["files"] if e["encoding"] == "xlsx"]
    assert 1 <= len(workbooks) <= 2
    cells = [cell for name in workbooks for row in tables[name][1:] for cell in row]
    assert any(isinstance(cell, dt.date) for cell in cells)          # real date cells
    assert any(isinstance(cell, float) and 1 < cell < 80_000 for cell in cells)  # Excel serial numbers


def test_files_carry_mixed_encodings_that_decode_as_declared(city, manifest):
    encodings = {e["encoding"] for e in manifest["files"] if e["encoding"] != "xlsx"}
    assert {"utf-8", "utf-8-sig"} <= encodings and encodings & {"gbk", "gb18030"}
    for entry in manifest["files"]:
        data = (city / entry["file"]).read_bytes()
        if entry["encoding"] == "xlsx":
            assert data[:2] == b"PK"
            continue
        data.decode(entry["encoding"])  # strict: raises on a wrong declaration
        assert data.startswith(b"\xef\xbb\xbf") == (entry["encoding"] == "utf-8-sig")
        if entry["encoding"] in ("gbk", "gb18030"):
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")


def test_a_gbk_file_with_a_character_outside_gbk_is_written_as_gb18030(tmp_path):
    frame = pd.DataFrame({"姓名": ["张伟", "王䶮"]})
    used = write_csv(frame, tmp_path / "names.csv", "gbk")
    assert used == "gb18030"
    assert (tmp_path / "names.csv").read_bytes().decode("gb18030").splitlines()[2] == "王䶮"


def test_extra_columns_appear_in_the_files_the_manifest_names(manifest, tables):
    with_extras = [e for e in manifest["files"] if e["extra_columns"]]
    assert len(with_extras) == 2
    for entry in with_extras:
        assert set(entry["extra_columns"]) <= set(tables[entry["file"]][0])


# ---------------------------------------------------------------- truth

def test_truth_names_the_person_of_every_data_row(city, manifest, tables):
    records = pd.read_csv(city / "truth" / "records.csv", dtype=str, keep_default_na=False)
    expected = []
    for entry in manifest["files"]:
        rows = tables[entry["file"]]
        assert len(rows) - 1 == entry["rows"]
        ids = np.array([str(row[0]) for row in rows[1:]], dtype=object)
        expected.extend(zip([entry["source"]] * len(ids), resolve_record_ids(ids, entry["file"])))
    assert sorted(expected) == sorted(zip(records["source"], records["record_id"]))
    assert records["person_id"].str.fullmatch(r"P\d{8}").all()
    assert not records.duplicated(["source", "record_id"]).any()


def test_empty_or_repeated_record_ids_fall_back_to_file_and_line():
    ids = np.array(["A1", "", "B2", "A1", "C3"], dtype=object)
    assert list(resolve_record_ids(ids, "x_202611.csv")) == [
        "x_202611.csv:2", "x_202611.csv:3", "B2", "x_202611.csv:5", "C3"]


def test_some_record_ids_are_empty_and_some_repeated(city):
    records = pd.read_csv(city / "truth" / "records.csv", dtype=str)
    fallback = records["record_id"].str.contains(":")
    assert fallback.sum() >= 3  # at least one empty id and one repeated pair


def test_bad_rows_are_listed_and_really_bad(city, tables):
    bad = pd.read_csv(city / "truth" / "bad_rows.csv", dtype={"line": int})
    assert set(bad["reason_kind"]) == {"empty_identity", "bad_date", "unknown_status"}
    for row in bad.itertuples():
        header, cells = tables[row.file][0], tables[row.file][row.line - 1]
        if row.reason_kind == "empty_identity":
            identity = [cells[i] for i, h in enumerate(header) if h.endswith("姓名") or h in ID_HEADERS]
            assert identity and not any(identity)
        elif row.reason_kind == "bad_date":
            value = cells[header.index("刑满日期" if "刑满日期" in header else "有效期至")]
            with pytest.raises(ValueError):
                pd.to_datetime(value.replace("年", "-").replace("月", "-").replace("日", ""), errors="raise")
        else:
            assert cells[header.index("参保状态")] not in {"正常参保", "暂停缴费", "终止参保", "正常", "暂停", "终止"}


def test_every_status_occurs_in_plausible_numbers(persons):
    counts = persons["status"].value_counts(normalize=True)
    assert set(counts.index) == {
        "DECEASED", "EXEMPT_PRISONER", "ENROLLED", "OUT_OF_SCOPE", "INSURED_ELSEWHERE", "UNENROLLED"}
    assert 0.6 < counts["ENROLLED"] < 0.9
    assert 0.05 < counts["UNENROLLED"] < 0.25
    assert counts["DECEASED"] < 0.03 and counts["EXEMPT_PRISONER"] < 0.01


def test_dispatch_places_are_real_streets_and_communities(persons):
    divisions = load_divisions()
    placed = persons[persons["district_code"] != ""]
    assert len(placed) > 0.9 * len(persons[persons["status"] == "UNENROLLED"])
    for row in placed.itertuples():
        streets = {s.name: s.code for s in divisions.streets(row.district_code)}
        assert row.street in streets
        if row.community:
            assert row.community in divisions.communities(streets[row.street])


def test_every_kind_of_hard_case_is_planted(persons):
    tags = Counter(t for value in persons["hard_case"] for t in value.split("|") if t)
    assert set(HARD_CASE_TAGS) <= set(tags)


def test_twins_share_surname_birth_date_and_home_but_not_the_id(persons):
    twins = persons[persons["hard_case"].str.contains("twin")]
    pairs = twins.groupby(["birth_date", "district_code", "street", "community"])
    assert len(pairs) >= 2
    for _, pair in pairs:
        if len(pair) != 2:
            continue
        first, second = pair["id_number"]
        assert first[:14] == second[:14] and first != second
        assert pair["name"].str[0].nunique() == 1


def test_common_names_share_a_birthday_but_are_different_people(persons):
    common = persons[persons["hard_case"].str.contains("common_name_birthday")]
    groups = common.groupby(["name", "birth_date"])["id_number"].nunique()
    assert (groups >= 2).any()
    assert set(common["name"]) <= {"张伟", "王伟", "王芳", "李娜", "刘洋", "张敏", "李静", "王静", "张丽", "李强"}


def test_a_valid_id_typo_makes_the_person_a_conflict(persons):
    typo = persons[persons["hard_case"].str.contains("valid_id_typo")]
    assert len(typo) >= 2
    assert typo["flags"].str.contains("CONFLICT").all()


def test_a_keyed_wrong_sequence_code_is_a_valid_number_two_digits_away():
    rng = np.random.default_rng(3)
    original = "120104197001011239"
    for _ in range(50):
        wrong = with_keyed_wrong_sequence(original, rng)
        assert is_valid(wrong) and wrong[:14] == original[:14] and wrong[16] == original[16]
        assert wrong[14] != original[14] and wrong[15] != original[15]


ID_HEADERS = ("公民身份号码", "身份证号", "身份证号码", "社会保障号码", "证件号码", "身份证件号")


def _delivered_ids(tables) -> set[str]:
    return {str(v).strip().upper() for h in ID_HEADERS for v in _column(tables, h) if v}


def test_keyed_wrong_numbers_are_delivered_beside_the_true_one(persons, tables):
    keyed = persons[persons["hard_case"].str.contains("valid_id_keyed_wrong")]
    assert len(keyed) >= 2
    delivered = _delivered_ids(tables)
    for number in keyed["id_number"]:
        assert any(is_valid(d) and d != number and d[:14] == number[:14] and d[16] == number[16]
                   and d[14] != number[14] and d[15] != number[15] for d in delivered)
    # The truth knows: the person holds two valid numbers, so the status rules flag CONFLICT.
    assert keyed["flags"].str.contains("CONFLICT").all()


def test_a_household_members_number_is_carried_under_another_name(persons, city, tables):
    borrowed = persons[persons["hard_case"].str.contains("household_member_number")]
    assert len(borrowed) >= 2
    assert borrowed["flags"].str.contains("CONFLICT").all()
    records = pd.read_csv(city / "truth" / "records.csv", dtype=str)
    delivered = {}
    for name, rows in tables.items():
        at = [rows[0].index(h) for h in ID_HEADERS if h in rows[0]]
        if at:
            source = name.rsplit("_", 1)[0]
            delivered.update({(source, str(row[0])): str(row[at[0]]).strip().upper() for row in rows[1:]})
    records["number"] = [delivered.get((s, r)) for s, r in zip(records["source"], records["record_id"])]
    holder = persons.set_index("id_number")
    for person in borrowed.itertuples():
        numbers = set(records.loc[records["person_id"] == person.person_id, "number"].dropna())
        others = [n for n in numbers if n in holder.index and n != person.id_number]
        assert others, person.person_id
        assert all(holder.loc[n, "name"] != person.name for n in others)


def test_foreign_workers_have_passports_and_latin_names(persons, tables):
    foreign = persons[persons["hard_case"].str.contains("foreign_passport")]
    assert len(foreign) >= 1
    assert foreign["name"].str.fullmatch(r"[A-Za-z ]+").all()
    assert not foreign["id_number"].map(is_valid).any()
    assert "护照" in _column(tables, "证件类型") or _column(tables, "护照号码")


# ---------------------------------------------------------------- dirty variants

def test_id_numbers_come_in_every_dirty_variant(tables):
    values = [v for h in ID_HEADERS for v in _column(tables, h)]
    assert any(v.endswith("x") for v in values)                               # lowercase x
    assert any(re.search(r"[０-９]", v) for v in values)                      # full-width digits
    assert any(re.fullmatch(r"[\dXx]+([ -][\dXx]+)+", v) for v in values)    # spaces or hyphens inside
    assert any(re.fullmatch(r"\d{15}", v) for v in values)                    # legacy 15 digits
    assert any(re.fullmatch(r"\d{17}[\dX]", v) and not is_valid(v) for v in values)  # wrong check digit
    assert "" in values


def test_names_come_with_spaces_traditional_characters_homophones_and_dots(city, tables, manifest):
    names = _texts(tables, ("姓名", "逝者姓名", "纳税人姓名", "学生姓名", "罪犯姓名", "职工姓名"))
    assert any(n != n.strip() or " " in n for n in names)
    assert any(re.search("[·•・.]", n) for n in names)
    assert any(re.search(r"[•・.]", n) for n in names)                        # a dot other than U+00B7
    variants = manifest["counts"]["name_variants"]
    assert variants.get("traditional", 0) > 0 and variants.get("homophone", 0) > 0
    assert any(c in "".join(names) for c in "張劉陳楊黃趙國華偉麗")


def test_dates_periods_genders_and_phones_come_in_every_notation(tables):
    dates = _texts(tables, DATE_HEADERS)
    assert any(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in dates)
    assert any(re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}", d) for d in dates)
    assert any(re.fullmatch(r"\d{8}", d) for d in dates)
    assert any(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", d) for d in dates)
    periods = _texts(tables, PERIOD_HEADERS)
    assert {p[4] if len(p) > 6 else "" for p in periods} >= {"-", "年", ""}
    assert set(_column(tables, "性别")) >= {"男", "女", "1", "2", "M", "F"}
    phones = _texts(tables, ("联系电话", "监护人电话"))
    for pattern in (r"1\d{10}", r"\+861\d{10}", r"00861\d{10}", r"022-\d{8}", r"\d{8}", r".+[/;].+"):
        assert any(re.fullmatch(pattern, p) for p in phones), pattern


def test_addresses_come_in_every_spelling(tables):
    addresses = _texts(tables, ADDRESS_HEADERS)
    assert any(a.startswith("天津市") for a in addresses)
    assert any(a.startswith("天津") and not a.startswith("天津市") for a in addresses)
    assert any(re.match(r"(和平|河东|河西|南开|河北|红桥|东丽|西青|津南|北辰|武清|宝坻|滨海|宁河|静海|蓟州)区", a)
               for a in addresses)
    assert any(re.match(r"(天津市?)?(南开|河西|滨海|西青)(?!区|新区)", a) for a in addresses)  # short district
    assert any(re.search(r"塘沽区|汉沽区|大港区", a) for a in addresses)
    assert any(re.search(r"蓟县|宁河县|静海县|武清县|宝坻县", a) for a in addresses)
    assert any(re.search(r"\d+-\d+-\d+$", a) for a in addresses)
    assert any(re.search(r"\d+号楼\d+门\d+$", a) for a in addresses)
    assert any(re.search(r"\d+栋\d+单元\d+室$", a) for a in addresses)
    assert any(not a.startswith("天津") and re.match(r"\D+省", a) for a in addresses)  # 户籍 in another province


# ---------------------------------------------------------------- determinism and safety

def test_the_same_seed_writes_the_same_bytes(tmp_path):
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((first, 7), (second, 7), (other, 8)):
        generate(300, seed, AS_OF, out)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    assert (first / "truth" / "persons.csv").read_bytes() != (other / "truth" / "persons.csv").read_bytes()


def test_generate_refuses_a_folder_that_holds_earlier_output(tmp_path):
    generate(20, 1, AS_OF, tmp_path)
    with pytest.raises(ConfigError, match="输出目录已有生成文件"):
        generate(20, 1, AS_OF, tmp_path)


# ---------------------------------------------------------------- agreement with ingestion

def test_ingestion_rejects_exactly_the_bad_rows_and_reaches_the_same_statuses(city, persons):
    """The key says what a perfect resolver concludes: ingest the files, link by the truth, apply the rules."""
    from resolver.ingest import ingest_folder
    from resolver.status import assign_statuses

    result = ingest_folder(city)
    bad = pd.read_csv(city / "truth" / "bad_rows.csv", dtype={"line": int})
    assert set(zip(result.rejected["file"], result.rejected["line"].astype(int))) == set(zip(bad["file"], bad["line"]))
    truth = pd.read_csv(city / "truth" / "records.csv", dtype=str)
    linked = result.records.merge(truth, on=["source", "record_id"], how="left", validate="one_to_one")
    assert linked["person_id"].notna().all()
    derived = assign_statuses(linked, AS_OF)
    expected = persons.set_index("person_id")
    assert derived["status"].sort_index().equals(expected["status"].sort_index())
    assert derived["flags"].fillna("").sort_index().equals(expected["flags"].sort_index())


def test_the_committed_sample_is_what_the_generator_writes(tmp_path):
    """data/samples must be regenerated when the generator or the status rules change."""
    sample = Path(__file__).resolve().parents[1] / "data" / "samples"
    manifest = json.loads((sample / "manifest.json").read_text(encoding="utf-8"))
    generate(manifest["persons"], manifest["seed"], dt.date.fromisoformat(manifest["as_of"]), tmp_path)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(p.relative_to(sample) for p in sample.rglob("*") if p.is_file())
    stale = [str(f) for f in written if (tmp_path / f).read_bytes() != (sample / f).read_bytes()]
    assert not stale, f"regenerate data/samples (stale: {', '.join(stale)})"
