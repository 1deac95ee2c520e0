"""The CSV source: encodings found without being told, CRLF, quoted newlines, row numbers, options."""
from __future__ import annotations

import codecs

import pytest

from connectors import Row, SourceError, Stream
from connectors.sources import get
from connectors.sources import csv_file
from connectors.sources.csv_file import detect_encoding
from tests.connectors.exports import csv_text
from tests.connectors.helpers import MemoryTarget, sync

TEXT = "户编号,户主姓名,家庭住址\r\n610923100201010001,王建国,\"宁陕县城关镇\r\n东河村1组\"\r\n610923100201010002,李秀英,龙王镇\r\n"


def rows(config):
    return [item for item in get("csv").read(config, Stream("x"), None) if isinstance(item, Row)]


@pytest.mark.parametrize("encoding, expected", [
    ("gb18030", "gb18030"), ("gbk", "gb18030"), ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"),
    ("utf-16", "utf-16"),
])
def test_the_encoding_is_detected(tmp_path, encoding, expected):
    path = tmp_path / "export.csv"
    path.write_bytes(TEXT.encode(encoding))
    assert detect_encoding(path) == expected
    data = rows({"path": str(path)})
    assert [r.data["户主姓名"] for r in data] == ["王建国", "李秀英"]
    assert list(data[0].data) == ["户编号", "户主姓名", "家庭住址"]  # no BOM left on the first header


def test_gb18030_characters_outside_gbk_are_read(tmp_path):
    path = tmp_path / "rare.csv"
    path.write_bytes("姓名\r\n王𠀾\r\n".encode("gb18030"))  # a CJK extension B character
    assert rows({"path": str(path)})[0].data == {"姓名": "王𠀾"}


def test_a_utf8_bom_file_is_not_mistaken_for_plain_utf8(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + "编号,名称\n1,甲\n".encode())
    assert detect_encoding(path) == "utf-8-sig"
    assert rows({"path": str(path)})[0].data == {"编号": "1", "名称": "甲"}


def test_row_numbers_are_the_physical_line_of_each_records_first_line(tmp_path):
    path = tmp_path / "lines.csv"
    path.write_bytes(("标题：宁陕县住户信息\r\n编号,地址\r\n1,\"第一行\r\n第二行\r\n第三行\"\r\n\r\n2,单行\r\n"
                      "3,\"a\nb\"\r\n,\r\n4,末行").encode("gb18030"))
    data = rows({"path": str(path), "header_row": 2})
    assert [(r.row_number, r.data["编号"]) for r in data] == [(3, "1"), (7, "2"), (8, "3"), (11, "4")]
    assert data[0].data["地址"] == "第一行\r\n第二行\r\n第三行"


def test_delimiter_and_no_header(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("1;甲;x\n2;乙\n", encoding="utf-8")
    assert [r.data for r in rows({"path": str(path), "delimiter": ";", "header_row": 0})] == [
        {"column_1": "1", "column_2": "甲", "column_3": "x"}, {"column_1": "2", "column_2": "乙"}]
    named = rows({"path": str(path), "delimiter": ";", "header_row": 0, "columns": ["id", "name"]})
    assert named[0].data == {"id": "1", "name": "甲", "column_3": "x"} and named[0].row_number == 1


def test_empty_and_repeated_headers_get_names(tmp_path):
    path = tmp_path / "headers.csv"
    path.write_text("备注,,备注\n甲,乙,丙\n", encoding="utf-8")
    assert rows({"path": str(path)})[0].data == {"备注": "甲", "column_2": "乙", "备注_2": "丙"}


def test_discover_names_the_stream_after_the_file_with_its_columns(tmp_path):
    path = tmp_path / "住户信息.csv"
    path.write_bytes(TEXT.encode("gb18030"))
    [stream] = get("csv").discover({"path": str(path)})
    assert stream.name == "住户信息" and stream.fields == ["户编号", "户主姓名", "家庭住址"]


def test_a_missing_file_and_a_bad_config_are_source_errors(tmp_path):
    source = get("csv")
    with pytest.raises(SourceError, match="^file not found: .*nowhere.csv$"):
        source.check({"path": str(tmp_path / "nowhere.csv")})
    with pytest.raises(SourceError, match="invalid csv source configuration: .*delimiter"):
        source.check({"path": "x.csv", "delimiter": ";;"})
    with pytest.raises(SourceError, match="unknown encoding 'klingon'"):
        (tmp_path / "a.csv").write_text("a\n1\n")
        source.check({"path": str(tmp_path / "a.csv"), "encoding": "klingon"})


def test_a_wrong_explicit_encoding_is_a_source_error_with_the_line(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(TEXT.encode("gb18030"))
    with pytest.raises(SourceError, match="the text is not utf-8.*set the encoding option"):
        rows({"path": str(path), "encoding": "utf-8"})


def test_bytes_that_are_neither_utf8_nor_gb18030_fall_back_to_a_guess(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("name\nJosé Müller\n".encode("latin-1") + b"\x80\xff\n")
    assert detect_encoding(path) not in ("utf-8", "gb18030")


def test_a_file_that_ends_before_its_header_row_is_a_source_error(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("标题\n", encoding="utf-8")
    with pytest.raises(SourceError, match="short.csv: the file ends before its header row 3"):
        rows({"path": str(path), "header_row": 3})


def test_a_run_detects_the_encoding_of_its_file_once(tmp_path, monkeypatch):
    path = tmp_path / "once.csv"
    path.write_bytes(csv_text(["编号"], [["1"], ["2"]]).encode("gb18030"))
    decoded = []
    original = csv_file._detect
    monkeypatch.setattr(csv_file, "_detect", lambda p: decoded.append(p) or original(p))
    report = sync(csv_file.CsvSource(), {"path": str(path)}, MemoryTarget(["编号"]))
    assert report.succeeded and report.inserted == 2 and len(decoded) == 1
    # a file rewritten (other size) is detected again
    path.write_bytes(csv_text(["编号"], [["1"], ["2"], ["3"]]).encode("utf-8"))
    assert csv_file.detect_encoding(path) == "utf-8" and len(decoded) == 2
