"""Survey dispatch follows the spec's address precedence and never drops a person."""
from __future__ import annotations

import pandas as pd

from resolver.dispatch import place_persons

NANKAI, HEXI, BINHAI = "120104", "120103", "120116"


def record(person: str, key: str, source: str, period: str = "202610", **addresses) -> dict:
    row = {"person_id": person, "record_key": key, "source": source, "period": period}
    for role in ("residence", "household"):
        district = addresses.get(role)
        row[f"{role}_address_raw"] = addresses.get(f"{role}_raw", f"{district} 某路1号" if district else None)
        row[f"{role}_district_code"] = district
        row[f"{role}_street"] = f"{district}街道" if district else None
        row[f"{role}_community"] = f"{district}社区" if district else None
        row[f"{role}_in_tianjin"] = addresses.get(f"{role}_in_tianjin", True if district else None)
    return row


def place(*rows: dict) -> pd.DataFrame:
    return place_persons(pd.DataFrame(list(rows)))


def test_police_residence_comes_before_household_registration():
    placed = place(record("p", "police_resident:1", "police_resident", residence=HEXI, household=NANKAI))
    assert placed.loc["p", "district_code"] == HEXI


def test_household_registration_when_the_police_have_no_residence():
    placed = place(
        record("p", "police_resident:1", "police_resident", household=NANKAI),
        record("p", "edu_student:1", "edu_student", residence=BINHAI),
    )
    assert placed.loc["p", "district_code"] == NANKAI


def test_latest_address_of_any_record_when_there_is_no_police_record():
    placed = place(
        record("p", "edu_student:1", "edu_student", period="202509", residence=HEXI),
        record("p", "civil_assistance:1", "civil_assistance", period="202610", residence=BINHAI),
    )
    assert placed.loc["p", "district_code"] == BINHAI
    assert placed.loc["p", "address_record"] == "civil_assistance:1"


def test_person_without_any_address_is_unplaced_with_the_reason():
    placed = place(record("p", "tax_iit:1", "tax_iit"))
    assert pd.isna(placed.loc["p", "district_code"])
    assert "无任何地址" in placed.loc["p", "dispatch_reason"]


def test_person_living_outside_tianjin_is_unplaced_with_the_address():
    placed = place(
        record("p", "police_resident:1", "police_resident",
               household_raw="河北省石家庄市长安区建设北大街5号", household_in_tianjin=False)
    )
    assert "地址不在天津" in placed.loc["p", "dispatch_reason"]
    assert "石家庄" in placed.loc["p", "dispatch_reason"]


def test_placed_person_has_no_dispatch_reason():
    placed = place(record("p", "police_resident:1", "police_resident", residence=HEXI))
    assert pd.isna(placed.loc["p", "dispatch_reason"])
