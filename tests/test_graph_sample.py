"""A small hand-built run (obviously synthetic people) and tests of how it becomes graph frames.

``sample_run()`` is shared by the graph tests: six persons in Tianjin, fake ID numbers
(birth date 00000000), fake phones 1380000xxxx, one employer seen by tax, HR and housing fund.
"""
from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from graph.model import RunData, RunInfo, graph_frames, rel_frame_endpoints
from resolver.schema import CANONICAL_COLUMNS

ROOM_401 = {"district_code": "120104", "street": "华苑街道", "community": "日华里社区", "road": "测试路",
            "number": "1", "building": "3", "unit": "2", "room": "401"}
CREDIT = "91120000TESTONLY01"
FIRM = "测试科技有限公司"


def _fake_id(n: int) -> str:
    return f"1201040000000000{n:02d}"


def _record(source: str, record_id: str, person_id: str, name: str, *, prob: float = 1.0,
            method: str = "id_number", residence: dict | None = None, **fields: object) -> dict:
    row = {c: None for c in CANONICAL_COLUMNS}
    row.update(record_key=f"{source}:{record_id}", source=source, record_id=record_id, file=f"{source}_202609.csv",
               line=2, name=name, name_raw=name, id_status="valid", raw="{}")
    for part, value in (residence or {}).items():
        row[f"residence_{part}"] = value
    if residence:
        row["residence_address_raw"] = "天津市南开区测试路1号3号楼2门401"
    row.update(fields)
    row.update(person_id=person_id, match_probability=prob, link_method=method)
    return row


def sample_records() -> pd.DataFrame:
    """Eleven records of six synthetic persons, in canonical columns plus the link columns."""
    rows = [
        _record("police_resident", "R1", "P1", "张测甲", id_number=_fake_id(11), residence=ROOM_401,
                phones="13800000001", gender="M", birth_date=datetime(1980, 1, 1)),
        _record("si_enrolment", "E1", "P1", "张测甲", id_number=_fake_id(11), insurance_type="企业职工基本养老保险",
                enrolment_status="正常参保", employer_name=FIRM, last_payment_period="202608"),
        _record("police_resident", "R2", "P2", "李测乙", id_number=_fake_id(12), residence=ROOM_401,
                phones="13800000002"),
        _record("tax_iit", "T2", "P2", "李测乙", id_number=_fake_id(12), employer_name=FIRM,
                employer_credit_code=CREDIT, tax_period="202607", income=8000.0),
        _record("hr_labour", "H2", "P2", "李测乙", id_number=_fake_id(12), employer_name=FIRM,
                hr_business_type="就业登记", hr_business_date=datetime(2026, 3, 1)),
        _record("police_resident", "R3", "P3", "王测丙", id_number=_fake_id(13),
                residence={**ROOM_401, "room": "502"}),
        _record("national_insured", "N3", "P3", "王测丙", id_number=_fake_id(13), insured_province_code="13",
                insured_province_name="河北省", national_status="正常"),
        _record("police_resident", "R4", "P4", "赵测丁", id_number=_fake_id(14)),
        _record("police_resident", "R5", "P5", "钱测戊", id_number=_fake_id(15),
                residence={**ROOM_401, "street": "体育中心街道", "community": "测试社区", "room": "101"}),
        _record("housing_fund", "F5", "P5", "钱测戊", id_number=_fake_id(16), employer_name=FIRM,
                fund_status="正常", fund_last_period="202608", prob=0.93, method="probabilistic"),
        _record("survey", "S6", "P6", "孙测己", id_number=_fake_id(17), method="singleton",
                unenrolled_reason="灵活就业未参保", residence={**ROOM_401, "district_code": "120103",
                                                              "street": "友谊路街道", "community": "测试里社区"}),
    ]
    frame = pd.DataFrame(rows)
    for column in ("birth_date", "hr_business_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def sample_persons() -> pd.DataFrame:
    """The six persons with statuses, flags and dispatch places as the status stage yields them."""
    rows = [
        ("P1", _fake_id(11), "张测甲", "M", "ENROLLED", "", "enrolled", "si_enrolment:E1",
         "120104", "华苑街道", "日华里社区", None),
        ("P2", _fake_id(12), "李测乙", "F", "UNENROLLED", "TAXPAYER|EMPLOYED", "unenrolled", "",
         "120104", "华苑街道", "日华里社区", None),
        ("P3", _fake_id(13), "王测丙", "M", "INSURED_ELSEWHERE", "", "insured_elsewhere", "national_insured:N3",
         "120104", "华苑街道", "日华里社区", None),
        ("P4", _fake_id(14), "赵测丁", "F", "UNENROLLED", "", "unenrolled", "",
         None, None, None, "无可定位地址 (no address placed in a district)"),
        ("P5", _fake_id(15), "钱测戊", "M", "UNENROLLED", "EMPLOYED|CONFLICT", "unenrolled", "",
         "120104", "体育中心街道", "测试社区", None),
        ("P6", _fake_id(17), "孙测己", "F", "UNENROLLED", "SURVEYED", "unenrolled", "survey:S6",
         "120103", "友谊路街道", "测试里社区", None),
    ]
    columns = ["person_id", "id_number", "name", "gender", "status", "flags", "status_rule", "status_records",
               "district_code", "street", "community", "dispatch_reason"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["birth_date"] = pd.NaT
    return frame


def sample_run(run_id: str = "run-test-1") -> RunData:
    """The whole synthetic run: records, persons, two review pairs (one decided), a run node."""
    matches = pd.DataFrame([
        ("police_resident:R4", "survey:S6", 0.62, '{"name": 0.7, "phone": null}'),
        ("police_resident:R3", "hr_labour:H2", 0.55, '{"name": 0.1}'),
    ], columns=["record_key_l", "record_key_r", "match_probability", "explanation"])
    decisions = pd.DataFrame([
        ("police_resident:R3", "hr_labour:H2", "not_match", "steward-test-01", datetime(2026, 9, 20, 10, 0),
         "不同人 (different people)"),
    ], columns=["record_key_l", "record_key_r", "decision", "steward", "decided_at", "note"])
    run = RunInfo(run_id=run_id, as_of=date(2026, 9, 30), started_at=datetime(2026, 9, 30, 8, 0),
                  inputs=("police_resident_202609.csv", "tax_iit_202609.csv"), counts={"records": 11, "persons": 6},
                  model_version="test-model-1")
    return RunData(records=sample_records(), persons=sample_persons(), possible_matches=matches,
                   decisions=decisions, run=run)


def test_frames_are_handed_over_with_every_relationship_after_the_labels_it_joins():
    landed = datetime(2026, 9, 30, 9, 0)
    handed = list(graph_frames(sample_run(), landed_at=landed).drain())
    whole = graph_frames(sample_run(), landed_at=landed)
    assert {(kind, name) for kind, name, _ in handed} == (
        {("node", label) for label in whole.nodes} | {("rel", name) for name in whole.rels})
    written: set[str] = set()
    for kind, name, frame in handed:
        if kind == "node":
            written.add(name)
        else:
            _, src, dst = rel_frame_endpoints(name)
            assert {src, dst} <= written, f"{name} before its endpoint labels"
        expected = whole.nodes[name] if kind == "node" else whole.rels[name]
        pd.testing.assert_frame_equal(frame.reset_index(drop=True), expected.reset_index(drop=True))


def test_counts_after_draining_are_the_frames_sizes():
    frames = graph_frames(sample_run())
    expected = graph_frames(sample_run()).counts()
    for _ in frames.drain():
        pass
    assert frames.counts() == expected
    assert expected["Record"] == 11 and expected["Person"] == 6 and expected["PART_OF"] >= 2


def test_household_joins_persons_sharing_a_room():
    frames = graph_frames(sample_run())
    members = frames.rels["MEMBER_OF"]
    assert set(members["from"]) == {"P1", "P2"}
    assert members["to"].nunique() == 1


def test_employer_without_credit_code_takes_the_code_seen_in_tax_returns():
    frames = graph_frames(sample_run())
    assert list(frames.nodes["Employer"]["key"]) == [CREDIT]
    works = frames.rels["WORKS_FOR"]
    assert set(zip(works["from"], works["source"])) == {
        ("P1", "si_enrolment"), ("P2", "tax_iit"), ("P2", "hr_labour"), ("P5", "housing_fund")}


def test_unplaced_person_lives_in_no_community():
    frames = graph_frames(sample_run())
    assert "P4" not in set(frames.rels["LIVES_IN"]["from"])
    assert set(frames.nodes["District"]["name"]) == {"南开区", "河西区"}


def test_flags_become_lists():
    persons = graph_frames(sample_run()).nodes["Person"].set_index("person_id")
    assert persons.loc["P2", "flags"] == ["TAXPAYER", "EMPLOYED"]
    assert persons.loc["P1", "flags"] == []
