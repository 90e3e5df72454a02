"""Upload checks: size, not a spreadsheet, XLSX bombs, header mapping and every row problem."""

from __future__ import annotations

import io
import zipfile
from importlib import resources

import pandas as pd
import pytest

from ipvalue.web.upload import UploadRefused, check_upload

LIMITS = {"max_bytes": 2_000_000, "max_unpacked": 20_000_000, "max_ratio": 200.0, "max_patents": 5_000}
DEMO = (resources.files("ipvalue") / "data" / "demo_portfolio.csv").read_bytes()


def _refused(data: bytes, name: str, **kw) -> UploadRefused:
    with pytest.raises(UploadRefused) as info:
        check_upload(data, name, **{**LIMITS, **kw})
    return info.value


def test_demo_maps_every_chinese_header_and_has_no_problem():
    check = check_upload(DEMO, "demo.csv", **LIMITS)
    mapping = dict(check.mapping)
    assert mapping["专利号"] == "patent_id" and mapping["申请日"] == "filing_date"
    assert mapping["法律状态"] == "legal_status" and check.unmapped == []
    assert check.issues == [] and len(check.rows) == check.n_rows == 34
    assert check.currencies == ["CNY"] and check.owners[0] == "示例智能装备科技有限公司"


def test_english_xlsx_headers_and_an_unmapped_column_are_shown():
    frame = pd.DataFrame(
        {
            "Patent Number": ["CN201810136750.X"],
            "Title": ["A gripper"],
            "Filing Date": ["2018-06-15"],
            "Grant Date": ["2019-12-27"],
            "Legal Status": ["granted"],
            "Internal note": ["keep me"],
        }
    )
    buf = io.BytesIO()
    frame.to_excel(buf, index=False)
    check = check_upload(buf.getvalue(), "book.xlsx", **LIMITS)
    assert check.kind == "xlsx"
    assert dict(check.mapping)["Patent Number"] == "patent_id"
    assert dict(check.mapping)["Filing Date"] == "filing_date"
    assert check.unmapped == ["Internal note"]
    assert check.issues == []


def test_every_row_problem_names_row_patent_and_field():
    bad = DEMO.replace(b"2018-06-15", b"2018-13-45", 1).replace(b",6,3,2,11,", b",-6,3,2,11,", 1)
    check = check_upload(bad, "demo.csv", **LIMITS)
    got = {(i["row"], i["patent"], i["field"]) for i in check.issues}
    assert (1, "CN201810136750.X", "filing_date") in got
    assert (1, "CN201810136750.X", "claims") in got
    assert check.rows == []  # nothing runs while there are problems


def test_too_big():
    exc = _refused(DEMO, "demo.csv", max_bytes=1000)
    assert exc.code == "too_big" and "1,000" in str(exc)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "photo.csv"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "old.xls"),
        (b"just some words without columns\nand more", "notes.txt"),
        (b"<html>not a workbook</html>", "book.xlsx"),
        (b"", "empty.csv"),
    ],
)
def test_not_a_spreadsheet(data, name):
    assert _refused(data, name).code == "not_spreadsheet"


def test_zip_that_is_not_a_workbook():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "hello")
    assert _refused(buf.getvalue(), "x.xlsx").code == "not_spreadsheet"


def test_xlsx_bomb_is_refused_before_it_is_opened():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"<c>0</c>" * 4_000_000)  # 32 MB of repeats
    data = buf.getvalue()
    assert len(data) < LIMITS["max_bytes"]
    exc = _refused(data, "bomb.xlsx")
    assert exc.code == "xlsx_bomb" and "unpack" in str(exc)


def test_too_many_patents():
    assert _refused(DEMO, "demo.csv", max_patents=10).code == "too_many"
