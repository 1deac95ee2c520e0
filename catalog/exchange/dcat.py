"""The catalog as DCAT-AP 3 (rdflib graphs): the paged catalog and single datasets.

Mappings (the tables live in :mod:`connectors.sources.dcat`, which reads them back):
update_cycle → ``dct:accrualPeriodicity`` (EU frequency vocabulary), share_type → ``dct:accessRights``
(EU access-right vocabulary), department → ``dct:publisher`` (``foaf:Agent``), resources →
``dcat:Distribution``, data items (信息项) → a CSVW table schema the dataset and its distributions
``dct:conformsTo``, classification → ``dcat:theme`` (a ``skos:Concept`` with the code as notation),
resource code → ``dct:identifier``; profile fields DCAT has no term for use the profile's namespace.
Titles, descriptions and keywords carry ``@zh``. The IRIs are built on ``SITE_URL`` (stable
identity); paging links on the URL the client used (they must work for that client).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin

import sqlalchemy as sa
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCAT, DCTERMS as DCT, FOAF, RDF, RDFS, SKOS, XSD
from sqlalchemy.orm import Session, selectinload

from connectors.sources.dcat import (ACCESS_RIGHT_BASE, ACCESS_RIGHTS, CSVW, FILE_TYPE_BASE, FREQUENCIES,
                                     FREQUENCY_BASE, GOV, HYDRA, ITEM_DATATYPES, LANGUAGE_ZH)

from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset
from ..departments.service import get_department
from ..errors import ValidationError
from . import layout

GOV_NS, HYDRA_NS, CSVW_NS = Namespace(GOV), Namespace(HYDRA), Namespace(CSVW)
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
MEDIA_TYPE_BASE = "https://www.iana.org/assignments/media-types/"
#: DCAT 3's dcat:version (rdflib's DCAT namespace predates it)
DCAT_VERSION = URIRef("http://www.w3.org/ns/dcat#version")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
#: rdflib serializer name and media type of each export format (by file extension)
FORMATS = {"ttl": ("turtle", "text/turtle"), "jsonld": ("json-ld", "application/ld+json"),
           "rdf": ("xml", "application/rdf+xml")}
_CLASS_LABELS = {"1": "基础信息资源", "2": "主题信息资源", "3": "部门信息资源"}
_FORMAT_CODE = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class Page:
    """Which part of the catalog to write: page number (1-based), size, department."""

    number: int = 1
    size: int = DEFAULT_PAGE_SIZE
    organization: str | None = None

    @classmethod
    def from_args(cls, args) -> "Page":
        """The page asked for in a query string; :class:`ValidationError` names a bad parameter."""
        values = {}
        for name, low, high, default in (("page", 1, 10**9, 1), ("page_size", 1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)):
            raw = args.get(name)
            try:
                value = int(raw) if raw not in (None, "") else default
            except ValueError:
                raise ValidationError.single(name, f"must be a whole number, not {raw!r}") from None
            if not low <= value <= high:
                raise ValidationError.single(name, f"must be between {low} and {high}")
            values[name] = value
        return cls(values["page"], values["page_size"], args.get("organization") or None)


def new_graph() -> Graph:
    """An empty graph with the prefixes of the export bound."""
    graph = Graph()
    for prefix, namespace in (("dcat", DCAT), ("dct", DCT), ("foaf", FOAF), ("skos", SKOS), ("xsd", XSD),
                              ("hydra", HYDRA_NS), ("csvw", CSVW_NS), ("gov", GOV_NS), ("vcard", VCARD)):
        graph.bind(prefix, namespace)
    return graph


class _Writer:
    """Adds datasets and their surroundings to a graph, with IRIs under ``site``."""

    def __init__(self, graph: Graph, site: str):
        self.graph, self.site = graph, site.rstrip("/")
        self.scheme = URIRef(f"{self.site}/catalog/themes")

    def add(self, s, p, o) -> None:
        self.graph.add((s, p, o))

    def zh(self, text: str) -> Literal:
        return Literal(text, lang="zh")

    def typed(self, iri: str, *classes) -> URIRef:
        node = URIRef(iri)
        for cls in classes:
            self.add(node, RDF.type, cls)
        return node

    def theme_scheme(self) -> None:
        self.typed(str(self.scheme), SKOS.ConceptScheme)
        self.add(self.scheme, DCT.title, self.zh(layout.profile_label("category")))

    def publisher(self, department) -> URIRef:
        node = self.typed(f"{self.site}/organization/{department.name}", FOAF.Agent, FOAF.Organization)
        self.add(node, FOAF.name, self.zh(department.title or department.name))
        if department.code:
            self.add(node, DCT.identifier, Literal(department.code))
        return node

    def dataset(self, dataset: Dataset) -> URIRef:
        """The dataset's node with its metadata, distributions and item schema."""
        node = self.typed(f"{self.site}/dataset/{dataset.id}", DCAT.Dataset)
        add, zh = self.add, self.zh
        add(node, DCT.title, zh(dataset.title or dataset.name))
        add(node, DCT.description, zh(dataset.notes or dataset.title or dataset.name))
        if dataset.resource_code:
            add(node, DCT.identifier, Literal(dataset.resource_code))
        add(node, DCAT.landingPage, self.typed(f"{self.site}/dataset/{dataset.name}", FOAF.Document))
        add(node, DCT.language, self.typed(LANGUAGE_ZH, DCT.LinguisticSystem))
        add(node, DCT.publisher, self.publisher(dataset.organization))
        for tag in dataset.tags:
            add(node, DCAT.keyword, zh(tag.name))
        if dataset.category:
            self.theme_scheme()
            concept = self.typed(f"{self.site}/catalog/themes/{dataset.category}", SKOS.Concept)
            add(concept, SKOS.prefLabel, zh(f"{_CLASS_LABELS.get(dataset.category[0], '')} {dataset.category}".strip()))
            add(concept, SKOS.notation, Literal(dataset.category))
            add(concept, SKOS.inScheme, self.scheme)
            add(node, DCAT.theme, concept)
        if dataset.update_cycle in FREQUENCIES:
            add(node, DCT.accrualPeriodicity,
                self.typed(FREQUENCY_BASE + FREQUENCIES[dataset.update_cycle], DCT.Frequency))
        if dataset.share_type in ACCESS_RIGHTS:
            add(node, DCT.accessRights,
                self.typed(ACCESS_RIGHT_BASE + ACCESS_RIGHTS[dataset.share_type], DCT.RightsStatement))
        if dataset.publish_date:
            add(node, DCT.issued, Literal(dataset.publish_date.isoformat(), datatype=XSD.date))
        add(node, DCT.modified, Literal(dataset.metadata_modified.replace(microsecond=0).isoformat(),
                                        datatype=XSD.dateTime))
        if dataset.version:
            add(node, DCAT_VERSION, Literal(dataset.version))
        method = dataset.share_method or {}
        for field, value in (("share_condition", dataset.share_condition), ("open_type", dataset.open_type),
                             ("open_condition", dataset.open_condition), ("record_schema", dataset.record_schema),
                             ("license_id", dataset.license_id), ("share_method_channel", method.get("channel")),
                             ("share_method_type", method.get("type"))):
            if value:
                add(node, GOV_NS[field], zh(value) if field.endswith("condition") else Literal(value))
        for code in dataset.related_codes or []:
            add(node, GOV_NS.related_code, Literal(code))
        schema = self.items_schema(dataset) if dataset.items else None
        if schema is not None:
            add(node, DCT.conformsTo, schema)
        for resource in dataset.resources:
            add(node, DCAT.distribution, self.distribution(dataset, resource, schema))
        return node

    def items_schema(self, dataset: Dataset) -> URIRef:
        """The data items (信息项) as a CSVW table schema: one column per item, in order."""
        schema = self.typed(f"{self.site}/dataset/{dataset.id}#items", DCT.Standard, CSVW_NS.Schema)
        self.add(schema, DCT.title, self.zh(f"{dataset.title or dataset.name} {layout.profile_label('items')}"))
        columns = []
        for index, item in enumerate(dataset.items, start=1):
            column = self.typed(f"{self.site}/dataset/{dataset.id}#item-{index}", CSVW_NS.Column)
            self.add(column, CSVW_NS.name, Literal(item["name"]))
            self.add(column, CSVW_NS.titles, self.zh(item["name"]))
            self.add(column, DCT.type, Literal(item["type"]))
            datatype = BNode()
            self.add(datatype, CSVW_NS.base, Literal(ITEM_DATATYPES.get(item["type"], "string")))
            if item.get("length"):
                self.add(datatype, CSVW_NS.maxLength, Literal(item["length"], datatype=XSD.nonNegativeInteger))
            self.add(column, CSVW_NS.datatype, datatype)
            if item.get("description"):
                self.add(column, DCT.description, self.zh(item["description"]))
            columns.append(column)
        head = BNode()
        Collection(self.graph, head, columns)
        self.add(schema, CSVW_NS.column, head)
        return schema

    def distribution(self, dataset: Dataset, resource, schema: URIRef | None) -> URIRef:
        """A resource (file, link or DataStore table) as a ``dcat:Distribution``."""
        node = self.typed(f"{self.site}/dataset/{dataset.id}/resource/{resource.id}", DCAT.Distribution)
        url = urljoin(self.site + "/", resource.url) if resource.url else f"{self.site}/dataset/{dataset.name}"
        self.add(node, DCAT.accessURL, self.typed(url, RDFS.Resource))
        if resource.url_type == "upload":
            self.add(node, DCAT.downloadURL, self.typed(url, RDFS.Resource))
        if resource.name:
            self.add(node, DCT.title, self.zh(resource.name))
        if resource.description:
            self.add(node, DCT.description, self.zh(resource.description))
        if resource.format and _FORMAT_CODE.match(resource.format):
            self.add(node, DCT["format"], self.typed(FILE_TYPE_BASE + resource.format.upper(), DCT.MediaTypeOrExtent))
        if resource.mimetype and "/" in resource.mimetype:
            self.add(node, DCAT.mediaType, self.typed(MEDIA_TYPE_BASE + resource.mimetype, DCT.MediaType))
        if resource.size is not None and resource.size >= 0:
            self.add(node, DCAT.byteSize, Literal(resource.size, datatype=XSD.nonNegativeInteger))
        if resource.last_modified:
            self.add(node, DCT.modified, Literal(resource.last_modified.replace(microsecond=0).isoformat(),
                                                 datatype=XSD.dateTime))
        if schema is not None:
            self.add(node, DCT.conformsTo, schema)
        return node


def _published(session: Session, actor: User | None, organization: str | None):
    query = sa.select(Dataset).where(rules.readable_datasets_clause(session, actor, Dataset.__table__),
                                     Dataset.state == "active")
    if organization:
        query = query.where(Dataset.owner_org == get_department(session, organization).id)
    return query


def catalog_graph(session: Session, actor: User | None, page: Page, *, site_url: str, page_url: str,
                  title: str) -> tuple[Graph, dict[str, str]]:
    """One page of the catalog the actor may read (anonymous: public, active datasets) and its
    paging links (``next``/``prev``/``first``/``last`` → URL)."""
    query = _published(session, actor, page.organization)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    datasets = session.scalars(query.order_by(Dataset.name).offset((page.number - 1) * page.size)
                               .limit(page.size).options(selectinload(Dataset.tags),
                                                         selectinload(Dataset.organization),
                                                         selectinload(Dataset.resources))).all()
    graph = new_graph()
    writer = _Writer(graph, site_url)
    catalog = writer.typed(f"{writer.site}/catalog", DCAT.Catalog)
    writer.add(catalog, DCT.title, writer.zh(title))
    writer.add(catalog, DCT.description, writer.zh(f"{title}：政务数据资源核心元数据（DCAT-AP 3）"))
    publisher = writer.typed(f"{writer.site}/#publisher", FOAF.Agent)
    writer.add(publisher, FOAF.name, writer.zh(title))
    writer.add(catalog, DCT.publisher, publisher)
    writer.add(catalog, DCT.language, writer.typed(LANGUAGE_ZH, DCT.LinguisticSystem))
    writer.add(catalog, FOAF.homepage, writer.typed(f"{writer.site}/", FOAF.Document))
    writer.theme_scheme()
    writer.add(catalog, DCAT.themeTaxonomy, writer.scheme)
    latest = None
    for dataset in datasets:
        writer.add(catalog, DCAT.dataset, writer.dataset(dataset))
        latest = max(latest or dataset.metadata_modified, dataset.metadata_modified)
    if latest is not None:
        writer.add(catalog, DCT.modified, Literal(latest.replace(microsecond=0).isoformat(), datatype=XSD.dateTime))
    links = _paging(graph, page, total, page_url)
    return graph, links


def _paging(graph: Graph, page: Page, total: int, page_url: str) -> dict[str, str]:
    last = max(1, -(-total // page.size))

    def url(number: int) -> str:
        query = {"page": number, "page_size": page.size}
        if page.organization:
            query["organization"] = page.organization
        return f"{page_url}?{urlencode(query)}"

    links = {"first": url(1), "last": url(last)}
    if page.number < last:
        links["next"] = url(page.number + 1)
    if page.number > 1:
        links["prev"] = url(min(page.number - 1, last))
    node = URIRef(url(page.number))
    graph.add((node, RDF.type, HYDRA_NS.PagedCollection))
    graph.add((node, HYDRA_NS.totalItems, Literal(total, datatype=XSD.integer)))
    graph.add((node, HYDRA_NS.itemsPerPage, Literal(page.size, datatype=XSD.integer)))
    for key, predicate in (("first", HYDRA_NS.firstPage), ("last", HYDRA_NS.lastPage),
                           ("next", HYDRA_NS.nextPage), ("prev", HYDRA_NS.previousPage)):
        if key in links:
            graph.add((node, predicate, Literal(links[key])))
    return links


def dataset_graph(session: Session, actor: User | None, dataset: Dataset, *, site_url: str) -> Graph:
    """One dataset (already checked readable by the caller) as DCAT-AP."""
    graph = new_graph()
    _Writer(graph, site_url).dataset(dataset)
    return graph


def serialize(graph: Graph, extension: str) -> tuple[bytes, str]:
    """The graph in the format of ``extension`` (ttl, jsonld, rdf) and its media type."""
    name, media = FORMATS[extension]
    text = graph.serialize(format=name, **({"auto_compact": True} if name == "json-ld" else {}))
    return text.encode("utf-8"), media
