"""The ``dcat`` source: DCAT-AP documents (three formats, file or URL) read back into core metadata rows,
Hydra paging followed, errors named. No catalog here: the documents are written by hand."""
from __future__ import annotations

import http.server
import threading

import pytest
import rdflib

from connectors.base import Row, SourceError, TransientSourceError
from connectors.sources.dcat import DcatSource, dataset_rows, parse_graph

PAGE_1 = """
@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix csvw: <http://www.w3.org/ns/csvw#> . @prefix hydra: <http://www.w3.org/ns/hydra/core#> .
@prefix gov: <urn:catalog:schema:metadata:dataset:1#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

<https://peer.example/catalog> a dcat:Catalog ; dcat:dataset <https://peer.example/dataset/a> .
<https://peer.example/catalog.ttl?page=1> a hydra:PagedCollection ; hydra:nextPage "/catalog.ttl?page=2" .

<https://peer.example/dataset/a> a dcat:Dataset ;
    dct:identifier "101001/000001" ;
    dct:title "Household register"@en, "户籍人口信息表"@zh ;
    dct:description "全县户籍人口"@zh ;
    dcat:keyword "户籍"@zh, "人口"@zh ;
    dcat:theme [ a skos:Concept ; skos:notation "101" ; skos:prefLabel "基础信息资源 101"@zh ] ;
    dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/ANNUAL_2> ;
    dct:accessRights <http://publications.europa.eu/resource/authority/access-right/RESTRICTED> ;
    dct:issued "2026-01-03"^^xsd:date ;
    dcat:landingPage <https://peer.example/dataset/hukou> ;
    dct:publisher <https://peer.example/organization/mzj> ;
    gov:share_condition "仅限民政部门"@zh ; gov:open_type "none" ; gov:open_condition "含个人信息"@zh ;
    gov:share_method_channel "platform" ; gov:share_method_type "api" ; gov:related_code "101001/000002" ;
    dct:conformsTo <https://peer.example/dataset/a#items> ;
    dcat:distribution [ a dcat:Distribution ; dct:title "CSV"@zh ;
        dcat:accessURL <https://peer.example/files/a.csv> ;
        dct:format <http://publications.europa.eu/resource/authority/file-type/CSV> ;
        dcat:mediaType <https://www.iana.org/assignments/media-types/text/csv> ;
        dcat:byteSize "120"^^xsd:nonNegativeInteger ] .
<https://peer.example/organization/mzj> a foaf:Agent ; foaf:name "宁陕县民政局"@zh ; dct:identifier "11610923MB00000019" .
<https://peer.example/dataset/a#items> a dct:Standard, csvw:Schema ;
    csvw:column ( [ csvw:name "户编号" ; dct:type "C" ; csvw:datatype [ csvw:base "string" ; csvw:maxLength 18 ] ;
                    dct:description "18 位户编号"@zh ]
                  [ csvw:name "人口数" ; csvw:datatype <http://www.w3.org/2001/XMLSchema#integer> ] ) .
"""
PAGE_2 = """
@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
<https://peer.example/dataset/b> a dcat:Dataset ; dct:identifier "301002/000007" ; dct:title "低保"@zh ;
    dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/CONT> .
"""


def rows_of(source_rows):
    return [item.data for item in source_rows if isinstance(item, Row)]


def test_rows_carry_the_core_metadata_mapped_back():
    row = dataset_rows(parse_graph(PAGE_1.encode(), location="page.ttl"))[0]
    assert row["identifier"] == "101001/000001"
    assert row["title"] == "户籍人口信息表"  # the @zh title wins over @en
    assert row["tags"] == ["人口", "户籍"]
    assert (row["category"], row["update_cycle"], row["share_type"]) == ("101", "semiannual", "conditional")
    assert row["publish_date"] == "2026-01-03"
    assert row["publisher"]["title"] == "宁陕县民政局" and row["publisher"]["code"] == "11610923MB00000019"
    assert (row["share_method_channel"], row["share_method_type"], row["open_type"]) == ("platform", "api", "none")
    assert row["related_codes"] == ["101001/000002"]
    assert row["items"] == [{"name": "户编号", "type": "C", "length": 18, "description": "18 位户编号"},
                            {"name": "人口数", "type": "I"}]  # no code given: inferred from the datatype
    assert row["landing_page"] == "https://peer.example/dataset/hukou"
    assert row["distributions"] == [{"title": "CSV", "description": None, "url": "https://peer.example/files/a.csv",
                                     "format": "CSV", "mimetype": "text/csv", "size": 120}]


def test_the_three_formats_read_the_same(tmp_path):
    graph = parse_graph(PAGE_1.encode(), location="page.ttl")
    expected = [dict(r, items=r["items"]) for r in dataset_rows(graph)]
    for suffix, fmt in ((".jsonld", "json-ld"), (".rdf", "xml"), (".ttl", "turtle")):
        path = tmp_path / f"catalog{suffix}"
        path.write_text(graph.serialize(format=fmt), encoding="utf-8")
        got = rows_of(DcatSource().read({"path": str(path)}, None, None))
        assert got == expected, suffix


class _Pages(http.server.BaseHTTPRequestHandler):
    pages = {"/catalog.ttl": PAGE_1, "/catalog.ttl?page=2": PAGE_2}
    status: dict[str, int] = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        code = self.status.get(self.path, 200 if self.path in self.pages else 404)
        body = self.pages.get(self.path, "").encode() if code == 200 else b"nope"
        self.send_response(code)
        self.send_header("Content-Type", "text/turtle; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def peer():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Pages.status = {}
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def test_pages_are_followed_with_a_checkpoint_after_each(peer):
    items = list(DcatSource().read({"url": f"{peer}/catalog.ttl"}, None, None))
    assert [type(i).__name__ for i in items] == ["Row", "Checkpoint", "Row", "Checkpoint"]
    assert items[1].state == {"page": f"{peer}/catalog.ttl?page=2"}  # the relative link resolved
    assert items[3].state == {}
    assert [r["identifier"] for r in rows_of(items)] == ["101001/000001", "301002/000007"]
    assert rows_of(items)[1]["update_cycle"] == "realtime"  # CONT, another catalog's code
    resumed = rows_of(DcatSource().read({"url": f"{peer}/catalog.ttl"}, None, items[1].state))
    assert [r["identifier"] for r in resumed] == ["301002/000007"]


def test_errors_name_the_document(peer, tmp_path):
    with pytest.raises(SourceError, match="HTTP 404 from .*/missing.ttl"):
        list(DcatSource().read({"url": f"{peer}/missing.ttl"}, None, None))
    _Pages.status = {"/catalog.ttl?page=2": 503}
    with pytest.raises(TransientSourceError, match="HTTP 503"):
        list(DcatSource().read({"url": f"{peer}/catalog.ttl"}, None, None))
    with pytest.raises(SourceError, match="cannot read .*nowhere.ttl"):
        list(DcatSource().read({"path": str(tmp_path / "nowhere.ttl")}, None, None))
    broken = tmp_path / "broken.jsonld"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(SourceError, match="broken.jsonld is not valid json-ld"):
        list(DcatSource().read({"path": str(broken)}, None, None))
    with pytest.raises(SourceError, match="invalid dcat source configuration"):
        DcatSource().check({"url": "ftp://x"})
    with pytest.raises(TransientSourceError, match="cannot connect"):
        list(DcatSource().read({"url": "http://127.0.0.1:9/catalog.ttl", "timeout": 2}, None, None))


def test_the_graph_module_is_rdflib():
    assert isinstance(parse_graph(PAGE_2.encode(), location="x.ttl"), rdflib.Graph)


def test_the_config_schema_is_valid_and_needs_a_url_or_a_path():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(DcatSource().spec())
    DcatSource().check({"url": "https://peer.example/catalog.ttl"})
    DcatSource().check({"path": "catalog.ttl"})
    with pytest.raises(SourceError):
        DcatSource().check({})
