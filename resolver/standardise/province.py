"""Province of insurance (参保省份): "13 河北省", "13", "河北省" or "河北" → ("13", "河北省")."""
from __future__ import annotations

import re
import unicodedata

# GB/T 2260 province-level codes.
PROVINCES: dict[str, str] = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省",
    "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省",
    "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区", "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}
_SUFFIX = re.compile(r"(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$")
_BY_SHORT_NAME: dict[str, str] = {_SUFFIX.sub("", name): code for code, name in PROVINCES.items()}
_PATTERN = re.compile(r"^\s*(?P<code>\d{2})?(?:0{4})?\s*(?P<name>\D*?)\s*$")


def parse_province(raw: str | None) -> tuple[str | None, str | None, str | None]:
    """(code, name, problem); problem is a message when the text names no known province."""
    if raw is None or not str(raw).strip():
        return None, None, None
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    match = _PATTERN.match(text)
    code = match.group("code") if match else None
    name = match.group("name") if match else ""
    code_from_name = _BY_SHORT_NAME.get(_SUFFIX.sub("", name)) if name else None
    if code and code not in PROVINCES:
        return None, None, f"未知省份代码 unknown province code {code!r}"
    if code and code_from_name and code != code_from_name:
        return None, None, f"省份代码与名称不符 code {code} does not match name {name!r}"
    code = code or code_from_name
    if code is None:
        return None, None, f"无法识别的省份 unrecognised province {text!r}"
    return code, PROVINCES[code], None
