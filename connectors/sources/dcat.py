"""Another catalog's DCAT-AP export (Turtle, JSON-LD or RDF/XML, by URL or file), one row per dataset.

The rows carry the core metadata of the government catalog profile mapped back from DCAT-AP 3 (the
inverse of the catalog's own export, whose mappings are the tables below, so both directions use one
table): ``dct:accrualPeriodicity`` (EU frequency vocabulary) → ``update_cycle``, ``dct:accessRights``
(EU access-right vocabulary) → ``share_type``, ``dct:publisher`` → ``publisher``, the CSVW table
schema the dataset ``dct:conformsTo`` → ``items``, ``dcat:theme`` (its ``skos:notation``) →
``category``, ``dct:identifier`` → ``identifier``; the profile fields DCAT has no term for come from
properties in the profile's own namespace (:data:`GOV`).

Paging: a page that is a ``hydra:PagedCollection`` (or ``hydra:PartialCollectionView``) with a
``hydra:nextPage`` / ``hydra:next`` is followed (relative links resolved against the page's URL), as
ckanext-dcat pages its catalog; a :class:`~connectors.base.Checkpoint` ``{"page": url}`` follows each
page. Timeouts, connection errors, HTTP 429 and 5xx are :class:`TransientSourceError`; other HTTP
errors, unreadable files and documents that do not parse are :class:`SourceError` naming the URL.
Every page, and every redirect, keeps to the source's :attr:`~DcatSource.outbound` policy
(:mod:`connectors.outbound`; default: public addresses only); a page at a refused address is a
:class:`SourceError`, not retried. So do the remote contexts a JSON-LD document names: rdflib would
fetch them itself, with no policy, so they are fetched here through the source's session and put inside
the document before it is parsed (at most :data:`MAX_REMOTE_CONTEXTS`; :func:`parse_graph` without a
``fetch_context`` refuses them).
"""
from __future__ import annotations

import json
import logging
import pathlib
from typing import Any, Callable, Iterator
from urllib.parse import urljoin, urlsplit

import requests

from ..base import Checkpoint, Row, Source, SourceError, Stream, TransientSourceError
from ..outbound import OutboundRefused, Policy
from ._files import ROOT_PROPERTY, confined

__all__ = ["ACCESS_RIGHTS", "DcatSource", "FREQUENCIES", "GOV", "ITEM_DATATYPES", "dataset_rows", "parse_graph"]

log = logging.getLogger(__name__)

#: remote JSON-LD contexts one document may name (each fetched through the outbound policy)
MAX_REMOTE_CONTEXTS = 10

FREQUENCY_BASE = "http://publications.europa.eu/resource/authority/frequency/"
ACCESS_RIGHT_BASE = "http://publications.europa.eu/resource/authority/access-right/"
FILE_TYPE_BASE = "http://publications.europa.eu/resource/authority/file-type/"
LANGUAGE_ZH = "http://publications.europa.eu/resource/authority/language/ZHO"
#: the profile's own terms (fields DCAT-AP has no property for), named after the profile's $id
GOV = "urn:catalog:schema:metadata:dataset:1#"
HYDRA = "http://www.w3.org/ns/hydra/core#"
CSVW = "http://www.w3.org/ns/csvw#"

#: update_cycle → EU frequency authority code
FREQUENCIES = {
    "realtime": "UPDATE_CONT", "daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY",
    "quarterly": "QUARTERLY", "semiannual": "ANNUAL_2", "yearly": "ANNUAL", "irregular": "IRREG",
}
#: share_type → EU access-right authority code
ACCESS_RIGHTS = {"unconditional": "PUBLIC", "conditional": "RESTRICTED", "none": "NON_PUBLIC"}
#: data item type code → XML Schema datatype (the code itself travels as the column's dct:type)
ITEM_DATATYPES = {
    "C": "string", "N": "decimal", "Y": "decimal", "D": "date", "T": "dateTime", "L": "boolean",
    "M": "string", "G": "base64Binary", "B": "hexBinary", "I": "integer", "F": "double",
}
# Codes a harvested catalog may use besides ours (CONT is "continuous", ANNUAL_3 three times a year).
_FREQUENCY_ALIASES = {"CONT": "realtime", "BIDAILY": "daily", "ANNUAL_3": "quarterly",
                      "BIWEEKLY": "weekly", "BIMONTHLY": "monthly", "OTHER": "irregular", "UNKNOWN": "irregular"}
_FORMATS = {"turtle": ("text/turtle", ".ttl"), "json-ld": ("application/ld+json", ".jsonld", ".json"),
            "xml": ("application/rdf+xml", ".rdf", ".xml")}
_ACCEPT = "text/turtle, application/ld+json;q=0.9, application/rdf+xml;q=0.8"


def _format_of(content_type: str, location: str) -> str:
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    suffix = pathlib.PurePosixPath(urlsplit(location).path).suffix.lower()
    for name, (media, *suffixes) in _FORMATS.items():
        if mime == media or suffix in suffixes:
            return name
    if mime in ("application/json",):
        return "json-ld"
    return "turtle"


class _Contexts:
    """Puts the remote contexts of a JSON-LD document inside it, fetched with ``fetch`` (or refused)."""

    def __init__(self, location: str, fetch: Callable[[str], Any] | None):
        self.location, self.fetch, self.fetched = location, fetch, 0

    def walk(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.walk(item) for item in node]
        if isinstance(node, dict):
            return {key: self.context(value, self.location) if key == "@context" else self.walk(value)
                    for key, value in node.items()}
        return node

    def context(self, value: Any, base: str) -> Any:
        if isinstance(value, list):
            flat: list[Any] = []
            for item in value:
                resolved = self.context(item, base)
                flat.extend(resolved if isinstance(resolved, list) else [resolved])
            return flat
        if isinstance(value, str):
            url = urljoin(base or "", value)
            document = self.remote(url)
            if not isinstance(document, dict) or "@context" not in document:
                raise SourceError(f"{url} (a JSON-LD context named by {self.location or 'the document'}) "
                                  "holds no @context")
            return self.context(document["@context"], url)
        if isinstance(value, dict):
            inline = {key: ({**term, "@context": self.context(term["@context"], base)}
                            if isinstance(term, dict) and "@context" in term else term)
                      for key, term in value.items() if key != "@import"}
            if isinstance(value.get("@import"), str):
                imported = self.context(value["@import"], base)
                if isinstance(imported, dict):
                    inline = {**imported, **inline}
            return inline
        return value

    def remote(self, url: str) -> Any:
        if self.fetch is None:
            raise SourceError(f"{self.location or 'the document'} names a remote JSON-LD context ({url}); "
                              "only contexts inside the document are read here")
        self.fetched += 1
        if self.fetched > MAX_REMOTE_CONTEXTS:
            raise SourceError(f"{self.location or 'the document'} names more than {MAX_REMOTE_CONTEXTS} remote "
                              "JSON-LD contexts")
        return self.fetch(url)


def parse_graph(data: bytes, *, content_type: str = "", location: str = "",
                fetch_context: Callable[[str], Any] | None = None):
    """An rdflib graph of a DCAT document; :class:`SourceError` names the document when it does not parse.

    A JSON-LD document's remote contexts are fetched with ``fetch_context(url)`` (their JSON) and put
    inside it first, never by rdflib; without ``fetch_context`` a remote context is a SourceError.
    """
    import rdflib  # loaded on first use, like the other sources' libraries

    graph = rdflib.Graph()
    fmt = _format_of(content_type, location)
    if fmt == "json-ld":
        try:
            document = json.loads(data)
        except ValueError:
            document = None  # rdflib says what is wrong with it, below
        if document is not None:
            data = json.dumps(_Contexts(location, fetch_context).walk(document), ensure_ascii=False).encode()
    try:
        graph.parse(data=data, format=fmt, publicID=location or None)
    except Exception as error:  # rdflib raises many types for bad input; all mean "not this format"
        raise SourceError(f"{location or 'the document'} is not valid {fmt} RDF: {str(error)[:300]}") from None
    return graph


# --- graph → rows --------------------------------------------------------------------------------


def _ns(base: str):
    import rdflib

    return rdflib.Namespace(base)


def _text(graph, subject, predicate, *, lang: str = "zh") -> str | None:
    """One literal of ``predicate``, preferring the language ``lang``, then untagged, then any."""
    import rdflib

    values = [o for o in graph.objects(subject, predicate) if isinstance(o, rdflib.Literal)]
    for wanted in (lang, None):
        for value in values:
            if (value.language or None) == wanted or (wanted and (value.language or "").startswith(wanted)):
                return str(value)
    return str(values[0]) if values else None


def _code(value, base: str) -> str | None:
    text = str(value) if value is not None else ""
    return text[len(base):] if text.startswith(base) else None


def _items(graph, schema) -> list[dict[str, Any]] | None:
    import rdflib
    from rdflib.collection import Collection

    csvw, dct = _ns(CSVW), _ns("http://purl.org/dc/terms/")
    columns = []
    for head in graph.objects(schema, csvw.column):
        columns.extend(Collection(graph, head) if (head, rdflib.RDF.first, None) in graph else [head])
    if not columns:
        return None
    items = []
    for column in columns:
        item: dict[str, Any] = {"name": _text(graph, column, csvw.name) or _text(graph, column, csvw.titles)}
        code = _text(graph, column, dct.type)
        datatype = next(graph.objects(column, csvw.datatype), None)
        if code is None and datatype is not None:  # another catalog: infer the code from the datatype
            base = _text(graph, datatype, csvw.base) or str(datatype).rsplit("#", 1)[-1]
            code = next((c for c, t in ITEM_DATATYPES.items() if t == base), "C")
        item["type"] = code
        if datatype is not None:
            length = next(graph.objects(datatype, csvw.maxLength), None)
            if length is not None and str(length).isdigit():
                item["length"] = int(str(length))
        description = _text(graph, column, dct.description)
        if description:
            item["description"] = description
        items.append(item)
    return items


def dataset_row(graph, dataset) -> dict[str, Any]:
    """The core metadata of one ``dcat:Dataset`` node, with the DCAT-AP mappings reversed."""
    import rdflib
    from rdflib.namespace import DCAT, DCTERMS as DCT, FOAF, SKOS

    gov = _ns(GOV)
    row: dict[str, Any] = {"uri": str(dataset) if isinstance(dataset, rdflib.URIRef) else None}
    row["identifier"] = _text(graph, dataset, DCT.identifier)
    row["title"] = _text(graph, dataset, DCT.title)
    row["notes"] = _text(graph, dataset, DCT.description)
    row["tags"] = sorted({str(k) for k in graph.objects(dataset, DCAT.keyword)})
    for theme in graph.objects(dataset, DCAT.theme):
        notation = _text(graph, theme, SKOS.notation)
        if notation and notation.isdigit():
            row["category"] = notation
            break
    frequency = next(graph.objects(dataset, DCT.accrualPeriodicity), None)
    code = _code(frequency, FREQUENCY_BASE)
    inverse = {v: k for k, v in FREQUENCIES.items()}
    row["update_cycle"] = inverse.get(code) or _FREQUENCY_ALIASES.get(code or "")
    rights = _code(next(graph.objects(dataset, DCT.accessRights), None), ACCESS_RIGHT_BASE)
    row["share_type"] = {v: k for k, v in ACCESS_RIGHTS.items()}.get(rights or "")
    issued = next(graph.objects(dataset, DCT.issued), None)
    row["publish_date"] = str(issued)[:10] if issued is not None else None
    modified = next(graph.objects(dataset, DCT.modified), None)
    row["modified"] = str(modified) if modified is not None else None
    row["version"] = _text(graph, dataset, rdflib.URIRef(str(DCAT) + "version"))  # DCAT 3, not in rdflib's list
    landing = next(graph.objects(dataset, DCAT.landingPage), None)
    row["landing_page"] = str(landing) if landing is not None else None
    publisher = next(graph.objects(dataset, DCT.publisher), None)
    if publisher is not None:
        row["publisher"] = {"uri": str(publisher) if isinstance(publisher, rdflib.URIRef) else None,
                            "title": _text(graph, publisher, FOAF.name),
                            "code": _text(graph, publisher, DCT.identifier)}
    for field in ("share_condition", "open_type", "open_condition", "record_schema", "license_id",
                  "share_method_channel", "share_method_type"):
        row[field] = _text(graph, dataset, gov[field])
    row["related_codes"] = sorted(str(o) for o in graph.objects(dataset, gov.related_code))
    row["items"] = None
    for schema in graph.objects(dataset, DCT.conformsTo):
        items = _items(graph, schema)
        if items is not None:
            row["items"] = items
            break
    distributions = []
    for distribution in graph.objects(dataset, DCAT.distribution):
        access = next(graph.objects(distribution, DCAT.accessURL), None)
        media = next(graph.objects(distribution, DCAT.mediaType), None)
        size = next(graph.objects(distribution, DCAT.byteSize), None)
        distributions.append({
            "title": _text(graph, distribution, DCT.title),
            "description": _text(graph, distribution, DCT.description),
            "url": str(access) if access is not None else None,
            "format": _code(next(graph.objects(distribution, DCT["format"]), None), FILE_TYPE_BASE),
            "mimetype": str(media).rsplit("/media-types/", 1)[-1] if media is not None else None,
            "size": int(size) if size is not None and str(size).isdigit() else None,
        })
    row["distributions"] = sorted(distributions, key=lambda d: (d["title"] or "", d["url"] or ""))
    return row


def dataset_rows(graph) -> list[dict[str, Any]]:
    """One row per ``dcat:Dataset`` of the graph, in identifier (then IRI) order."""
    from rdflib.namespace import DCAT, RDF

    rows = [dataset_row(graph, node) for node in set(graph.subjects(RDF.type, DCAT.Dataset))]
    return sorted(rows, key=lambda r: (r["identifier"] or "", r["uri"] or ""))


def next_page(graph, page_url: str) -> str | None:
    """The next page named by Hydra paging in ``graph`` (``None`` on the last page)."""
    hydra = _ns(HYDRA)
    for predicate in (hydra.nextPage, hydra.next):
        for value in graph.objects(None, predicate):
            return urljoin(page_url, str(value))
    return None


# --- the source ----------------------------------------------------------------------------------


class DcatSource(Source):
    """A DCAT-AP catalog; one stream, ``datasets``."""

    name = "dcat"
    #: where this source may send requests (the catalog sets its own, with the operator's allowlist)
    outbound: Policy = Policy()

    def spec(self) -> dict[str, Any]:
        """url or path, token, timeout, max_pages."""
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": False,
            "oneOf": [{"required": ["url"]}, {"required": ["path"]}],
            "properties": {
                "url": {"type": "string", "pattern": "^https?://",
                        "description": "the catalog's DCAT export, e.g. https://data.example.gov.cn/catalog.ttl"},
                "path": {"type": "string", "minLength": 1, "description": "a DCAT file (.ttl, .jsonld, .rdf)"},
                "root": ROOT_PROPERTY,
                "token": {"type": "string", "minLength": 1, "description": "sent as Authorization"},
                "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 30},
                "max_pages": {"type": "integer", "minimum": 1, "default": 10000},
            },
        }

    def check(self, config: dict[str, Any]) -> None:
        """The schema, and a URL whose host is an address the :attr:`outbound` policy refuses."""
        super().check(config)
        problem = self.outbound.refusal_for_url(config["url"]) if "url" in config else None
        if problem:
            raise SourceError(f"url: {problem}")

    def discover(self, config: dict[str, Any]) -> list[Stream]:
        """The one stream: datasets keyed by their identifier."""
        return [Stream(name="datasets", fields=["identifier", "title", "notes", "category", "share_type",
                                                "update_cycle", "publish_date", "tags", "items", "publisher"],
                       primary_key=["identifier"])]

    def read(self, config: dict[str, Any], stream: Stream | None,
             state: dict[str, Any] | None) -> Iterator[Row | Checkpoint]:
        """Every dataset of every page, from the page in ``state`` (or the first)."""
        self.check(config)
        if "path" in config:
            location = config["path"]
            try:
                file = confined(config["root"], location) if config.get("root") else pathlib.Path(location)
                data = file.read_bytes()
            except OSError as error:
                raise SourceError(f"cannot read {location}: {error.strerror or error}") from None
            with self.outbound.session() as session:
                graph = parse_graph(data, location=location,
                                    fetch_context=lambda url: self._context(session, config, url))
            for number, row in enumerate(dataset_rows(graph), start=1):
                yield Row(row, number)
            yield Checkpoint({})
            return
        page = (state or {}).get("page") or config["url"]
        number, seen = 0, set()
        with self.outbound.session() as session:
            for _ in range(config.get("max_pages", 10000)):
                if page in seen:  # a server whose "next" points back must not keep us reading forever
                    log.warning("DCAT paging returned to %s; stopping", page)
                    break
                seen.add(page)
                graph = self._fetch(session, config, page)
                for row in dataset_rows(graph):
                    number += 1
                    yield Row(row, number)
                following = next_page(graph, page)
                yield Checkpoint({"page": following} if following else {})
                if not following:
                    break
                page = following

    def _fetch(self, session: requests.Session, config: dict[str, Any], url: str):
        headers = {"Accept": _ACCEPT}
        if config.get("token"):
            headers["Authorization"] = config["token"]
        response = self._get(session, config, url, headers)
        return parse_graph(response.content, content_type=response.headers.get("Content-Type", ""), location=url,
                           fetch_context=lambda context_url: self._context(session, config, context_url))

    def _context(self, session: requests.Session, config: dict[str, Any], url: str) -> Any:
        """A remote JSON-LD context (never sent the token: it may live on another host)."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise SourceError(f"JSON-LD context {url}: only http(s) contexts are read")
        response = self._get(session, config, url, {"Accept": "application/ld+json, application/json"})
        try:
            return response.json()
        except ValueError:
            raise SourceError(f"JSON-LD context {url} is not JSON") from None

    def _get(self, session: requests.Session, config: dict[str, Any], url: str,
             headers: dict[str, str]) -> requests.Response:
        try:
            response = session.get(url, headers=headers, timeout=config.get("timeout", 30))
        except OutboundRefused as error:
            raise SourceError(str(error)) from None
        except requests.Timeout:
            raise TransientSourceError(f"timed out reading {url}") from None
        except requests.ConnectionError as error:
            raise TransientSourceError(f"cannot connect to {url}: {str(error)[:200]}") from None
        except (requests.RequestException, ValueError) as error:  # a URL requests cannot use
            raise SourceError(f"cannot read {url}: {str(error)[:200]}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientSourceError(f"HTTP {response.status_code} from {url}")
        if response.status_code in (401, 403):
            raise SourceError(f"HTTP {response.status_code} from {url}: the catalog refused "
                              + ("the token" if config.get("token") else "an anonymous read; configure a token"))
        if response.status_code != 200:
            raise SourceError(f"HTTP {response.status_code} from {url}")
        return response
