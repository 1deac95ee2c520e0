"""DCAT-AP 3 export: SHACL validity against the official shapes, mappings, formats, paging, access."""
from __future__ import annotations

import io
import pathlib
import time

import pytest
import rdflib
from rdflib.namespace import DCTERMS as DCT, FOAF, RDF, SKOS

from tests.exchange.conftest import varied_datasets

SHAPES = pathlib.Path(__file__).resolve().parents[1] / "data" / "dcat-ap" / "dcat-ap-3.0.0-SHACL.ttl"
CSVW = rdflib.Namespace("http://www.w3.org/ns/csvw#")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")  # open: rdflib's closed one warns on pytest's probes
HYDRA = rdflib.Namespace("http://www.w3.org/ns/hydra/core#")
FREQ = "http://publications.europa.eu/resource/authority/frequency/"
RIGHTS = "http://publications.europa.eu/resource/authority/access-right/"


@pytest.fixture(scope="module")
def shapes():
    return rdflib.Graph().parse(SHAPES, format="turtle")


def fetch(client, url, token=None, **headers) -> rdflib.Graph:
    if token:
        headers["Authorization"] = token
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    fmt = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/rdf+xml": "xml"}[response.mimetype]
    return rdflib.Graph().parse(data=response.data, format=fmt)


def node_of(graph, name):
    """The dataset node whose landing page is /dataset/<name>."""
    return next(graph.subjects(DCAT.landingPage, rdflib.URIRef(f"http://localhost/dataset/{name}")))


def names_in(graph) -> set[str]:
    return {str(graph.value(d, DCAT.landingPage)).rsplit("/", 1)[1] for d in graph.subjects(RDF.type, DCAT.Dataset)}


def validate(graph, shapes):
    from pyshacl import validate as shacl

    conforms, results, text = shacl(graph, shacl_graph=shapes, inference="none", advanced=False)
    return conforms, text, results


def violated_paths(results) -> set[str]:
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    return {str(path) for path in results.objects(None, sh.resultPath)}


@pytest.fixture
def published(make, depts, api):
    """Two public datasets (one with a link and an uploaded-like resource), a private one and a draft."""
    varied_datasets(make, depts.mzj["id"])
    make.dataset(depts.gaj["id"], name="gaj-private", resource_code="101001/000098", private=True)
    reply = api.call("resource_create", {"package_id": "hukou", "url": "https://data.ningshan.gov.cn/hukou.csv",
                                         "name": "户籍人口 CSV", "format": "CSV", "mimetype": "text/csv",
                                         "description": "每月导出"}, token=depts.editor.token)
    assert reply.status == 200, reply.body
    api.call("resource_create", content_type="multipart/form-data", token=depts.editor.token,
             data_raw={"package_id": "dibao", "name": "上传文件",
                       "upload": (io.BytesIO("姓名,金额\r\n张三,300\r\n".encode()), "dibao.csv")}).result


def test_the_catalog_export_conforms_to_the_dcat_ap_3_shapes(client, published, shapes):
    graph = fetch(client, "/catalog.ttl")
    started = time.perf_counter()
    conforms, report, _results = validate(graph, shapes)
    assert conforms, report
    assert time.perf_counter() - started < 30
    one = fetch(client, "/dataset/hukou.jsonld")
    conforms, report, _results = validate(one, shapes)
    assert conforms, report


def test_a_broken_graph_does_not_conform(client, published, shapes):
    graph = fetch(client, "/catalog.ttl")
    dataset = node_of(graph, "hukou")
    graph.remove((dataset, DCT.title, None))  # title is mandatory
    graph.add((dataset, DCT.accrualPeriodicity, rdflib.URIRef(FREQ + "WEEKLY")))  # a second frequency
    catalog = next(graph.subjects(RDF.type, DCAT.Catalog))
    graph.remove((catalog, DCT.publisher, None))  # a catalog needs a publisher
    conforms, _report, results = validate(graph, shapes)
    assert not conforms
    assert violated_paths(results) == {str(DCT.title), str(DCT.accrualPeriodicity), str(DCT.publisher)}


def test_core_metadata_maps_to_dcat_ap(client, published):
    graph = fetch(client, "/catalog.ttl")
    hukou, dibao = node_of(graph, "hukou"), node_of(graph, "dibao")
    assert str(graph.value(dibao, DCT.identifier)) == "301002/000007"
    assert graph.value(hukou, DCT.accrualPeriodicity) == rdflib.URIRef(FREQ + "MONTHLY")
    assert graph.value(dibao, DCT.accrualPeriodicity) == rdflib.URIRef(FREQ + "QUARTERLY")
    assert graph.value(hukou, DCT.accessRights) == rdflib.URIRef(RIGHTS + "RESTRICTED")
    assert graph.value(dibao, DCT.accessRights) == rdflib.URIRef(RIGHTS + "PUBLIC")
    title = graph.value(hukou, DCT.title)
    assert title.language == "zh" and str(title).startswith("宁陕县户籍人口信息表")
    assert {str(k) for k in graph.objects(hukou, DCAT.keyword)} == {"户籍", "人口"}
    assert str(graph.value(hukou, DCT.issued)) == "2026-01-03"
    publisher = graph.value(hukou, DCT.publisher)
    assert (publisher, RDF.type, FOAF.Agent) in graph
    assert str(graph.value(publisher, FOAF.name)) == "宁陕县民政局"
    assert str(graph.value(publisher, DCT.identifier)) == "11610923MB00000019"
    theme = graph.value(hukou, DCAT.theme)
    assert str(graph.value(theme, SKOS.notation)) == "101"
    schema = graph.value(hukou, DCT.conformsTo)
    columns = list(rdflib.collection.Collection(graph, graph.value(schema, CSVW.column)))
    assert [str(graph.value(c, CSVW.name)) for c in columns] == ["户编号", "户主姓名", "人口数"]
    assert [str(graph.value(c, DCT.type)) for c in columns] == ["C", "C", "I"]
    assert str(graph.value(graph.value(columns[0], CSVW.datatype), CSVW.maxLength)) == "18"
    distribution = graph.value(hukou, DCAT.distribution)
    assert str(graph.value(distribution, DCAT.accessURL)) == "https://data.ningshan.gov.cn/hukou.csv"
    assert str(graph.value(distribution, DCT["format"])).endswith("/file-type/CSV")
    assert graph.value(distribution, DCT.conformsTo) == schema
    uploaded = graph.value(dibao, DCAT.distribution)
    assert str(graph.value(uploaded, DCAT.downloadURL)).startswith("http://localhost/dataset/")
    assert int(graph.value(uploaded, DCAT.byteSize)) > 0


def test_only_public_active_datasets_go_out_anonymously(client, published, depts):
    def names(token=None):
        return names_in(fetch(client, "/catalog.ttl", token))

    assert names() == {"hukou", "dibao"}
    assert names(depts.gaj_editor.token) == {"hukou", "dibao", "gaj-private"}
    assert names(depts.sysadmin.token) == {"hukou", "dibao", "gaj-private"}  # drafts are never published
    assert client.get("/dataset/gaj-private.ttl").status_code == 404  # as if missing
    assert client.get("/dataset/nope.ttl").status_code == 404
    assert client.get("/dataset/gaj-private.ttl", headers={"Authorization": depts.gaj_editor.token}).status_code == 200


def test_formats_and_content_negotiation_give_the_same_graph(client, published):
    from rdflib.compare import isomorphic

    def without_paging(graph):  # the page's own URL names the format, the rest must be equal
        for page in list(graph.subjects(RDF.type, HYDRA.PagedCollection)):
            graph.remove((page, None, None))
        return graph

    turtle = without_paging(fetch(client, "/catalog.ttl"))
    assert isomorphic(turtle, without_paging(fetch(client, "/catalog.jsonld")))
    assert isomorphic(turtle, without_paging(fetch(client, "/catalog.rdf")))
    for accept, media in (("application/ld+json", "application/ld+json"), ("text/turtle", "text/turtle"),
                          ("application/rdf+xml;q=0.9, text/turtle;q=0.5", "application/rdf+xml"),
                          ("*/*", "text/turtle")):
        response = client.get("/catalog", headers={"Accept": accept})
        assert response.status_code == 200 and response.mimetype == media
    assert client.get("/catalog").mimetype == "text/turtle"
    refused = client.get("/catalog", headers={"Accept": "text/html"})
    assert refused.status_code == 406 and refused.get_json()["success"] is False
    one = fetch(client, "/dataset/dibao.ttl")
    assert isomorphic(one, fetch(client, "/dataset/dibao.rdf"))
    assert len(list(one.subjects(RDF.type, DCAT.Dataset))) == 1


def test_the_catalog_is_paged_with_hydra_links(client, make, depts):
    for n in range(5):
        make.dataset(depts.mzj["id"], name=f"page-{n}", resource_code=f"101001/00010{n}")
    seen, url, pages = [], "/catalog.ttl?page_size=2", 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        graph = rdflib.Graph().parse(data=response.data, format="turtle")
        page = next(graph.subjects(RDF.type, HYDRA.PagedCollection))
        assert int(graph.value(page, HYDRA.totalItems)) == 5
        seen.extend(str(graph.value(d, DCT.identifier)) for d in graph.subjects(RDF.type, DCAT.Dataset))
        following = graph.value(page, HYDRA.nextPage)
        assert ('rel="next"' in response.headers["Link"]) == (following is not None)
        url = str(following).replace("http://localhost", "") if following is not None else None
        pages += 1
    assert pages == 3 and sorted(seen) == [f"101001/00010{n}" for n in range(5)]
    last = rdflib.Graph().parse(data=client.get("/catalog.ttl?page=3&page_size=2").data, format="turtle")
    assert next(last.objects(None, HYDRA.previousPage), None) is not None
    bad = client.get("/catalog.ttl?page=0")
    assert bad.status_code == 409 and "page" in bad.get_json()["error"]
    assert client.get("/catalog.ttl?page_size=abc").status_code == 409
    assert client.get("/catalog.ttl?organization=nope").status_code == 404
    only_gaj = fetch(client, "/catalog.ttl?organization=gaj")
    assert not list(only_gaj.subjects(RDF.type, DCAT.Dataset))
