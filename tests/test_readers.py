"""Reading department files: encoding detection agrees with Python's strict decoders."""
from pathlib import Path

import pytest

from resolver.errors import InputError
from resolver.readers import _is_utf8, detect_encoding

SAMPLES = [
    "天津市和平区".encode(),
    "天津市和平区".encode("gb18030"),
    b"",
    b"plain ascii",
    b"\xed\xa0\x80",          # a UTF-16 surrogate written as UTF-8
    b"\xc0\x80",              # an overlong encoding
    b"\xf4\x90\x80\x80",      # beyond U+10FFFF
    "张伟".encode()[:-1],     # cut inside a character
    b"abc\xff",
]


def _python_says_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize("data", SAMPLES)
def test_utf8_check_agrees_with_python(data: bytes):
    assert _is_utf8(data) == _python_says_utf8(data)
    assert _is_utf8(memoryview(b"x" + data)[1:]) == _python_says_utf8(data)


def test_bom_with_invalid_utf8_is_an_error():
    with pytest.raises(InputError, match="UTF-8 BOM"):
        detect_encoding(b"\xef\xbb\xbfab\xff", Path("x.csv"))


@pytest.mark.parametrize(
    ("data", "encoding"),
    [("姓名\n张伟\n".encode(), "utf-8"), (b"\xef\xbb\xbf" + "姓名\n".encode(), "utf-8-sig"),
     ("姓名\n张伟\n".encode("gb18030"), "gb18030")],
)
def test_detected_encodings(data: bytes, encoding: str):
    assert detect_encoding(data, Path("x.csv")) == encoding
