"""Word searches answered from an in-process inverted index that follows the change log (issue 17, sixth pass).

The first computation of a word search in the database reads every hit: a page of ``dataset_search`` (1.1 KB
rows), a probe of ``dataset`` and the facet members' index per hit, 0.2-0.4 s for a common word at 300,000
datasets before anything is counted (docs/PERFORMANCE.md, "At 300,000 datasets, fifth pass"). Solr, which CKAN
runs beside its database, keeps an inverted index and the facet values in memory; this module does the same
inside the process, on PostgreSQL:

* **The replica** of what a plain-word search reads, per engine: every dataset that is not deleted, numbered
  (``doc``), with its visibility class (``owner_org``, ``state``, ``private``), sort keys, facet values (the
  department and the column facets one code each; tags, formats and themes, per doc, from migration 0023's
  ``search_facet_member``, the values the facet counts use) and its index tokens (from ``dataset_search``: the
  lexemes of its tsvector, so a term matches here exactly when ``@@`` matches there): per term, the docs
  holding it and the docs holding it in their title (the score counts the query words in the title).
* **Loading** reads all of it in one ``REPEATABLE READ`` transaction (one snapshot) with the change log's
  position, its horizon and the snapshot (``txid_current_snapshot()``).
* **Following**: each search first runs one statement that reads the log entries since the replica's position
  and those of the transactions its snapshot could not see (the rules of :mod:`catalog.search.delta`), the
  current rows of those datasets, and the visibility classes the reader may see (the rows of
  ``search_facet_count`` that :func:`catalog.auth.rules.readable_datasets_clause` and the include flags leave
  them: the same rule as everywhere else, evaluated by the database). A changed dataset's old ``doc`` is
  marked dead and its current row appended as a new one (its terms and members in per-term and per-facet
  overflow lists); once dead docs outnumber a quarter of the live ones, a new replica is loaded in a thread
  while this one serves.
* **Answering**: the docs of the query's terms counted into one array per doc (a doc has every term when
  its count is the number of terms), masked by ``live`` and the reader's classes; the facets are
  ``bincount``s of the hits' codes; the page is a partial sort on the order's keys (merged into one integer
  where their ranges fit), then an exact sort of the few candidates with the dataset id last.

Anything this cannot answer exactly returns ``None`` and the caller computes it in the database as before:
another engine than PostgreSQL (FTS5's tokenizer folds diacritics and splits on its own rules), a replica being
loaded, a "recompute everything" entry or too many changes (a reload starts), a log pruned past the replica, a
reader whose snapshot does not contain the replica's, a reader whose own transaction wrote.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import mmap
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Iterable

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset, Resource, dataset_tag
from ..db import make_engine
from .conditions import NUM_RESOURCES, NUM_TAGS
from .delta import COLUMN_FACETS, NUMERIC_KEYS, snapshot_contains
from .index import SAFE_TERM
from .models import change_horizon, change_log, facet_count, facet_member

#: Changed datasets one search applies at most (more: the replica is loaded again).
BOUND = 5000
#: Below this many datasets a replica is built inside the search that needs it; above, loaded by a process of its
#: own (started from a thread) while the database answers the searches. Building in the request took 6.8-9.1 s for
#: 20,000 datasets (a scratch script on the benchmark's database, load 2): a few thousand at most.
LOAD_IN_REQUEST = 2_000
#: Dead docs (changed or deleted since loading) tolerated before loading again, at least MIN_DEAD and this share
#: of the live ones: their postings are only skipped.
MIN_DEAD = 1000
MAX_DEAD_SHARE = 0.25
#: Answers a replica keeps until it applies a change (the same question asked again costs no array work).
KEPT_ANSWERS = 256
#: Facets that are one value per dataset, and those listed per dataset in ``search_facet_member``.
SINGLE_FACETS = ("organization", *COLUMN_FACETS)
LISTED_FACETS = ("tags", "res_format", "groups")
#: Separates the fields of a dataset's row in the follow statement (no value holds it).
FIELD = "\x1e"

logger = logging.getLogger(__name__)

#: How searches were answered here: ``answered``, ``followed`` (changes applied first), ``repeated`` (of those,
#: the answer kept since), ``declined`` (left to the database); and replicas ``loaded`` by this process and
#: ``opened`` from their files. For the benchmark and the tests.
stats: Counter = Counter()


class _Column:
    """A numpy array that grows by appending (capacity doubles)."""

    def __init__(self, values, dtype):
        self.data = np.asarray(values, dtype=dtype)
        self.size = len(self.data)

    def append(self, value) -> None:
        if self.size == len(self.data):
            grown = np.empty(max(16, 2 * len(self.data)), dtype=self.data.dtype)
            grown[:self.size] = self.data[:self.size]
            self.data = grown
        self.data[self.size] = value
        self.size += 1

    def view(self) -> np.ndarray:
        return self.data[:self.size]


class _Codes:
    """Values numbered in order of first sight."""

    def __init__(self):
        self.code: dict = {}
        self.values: list = []

    def __call__(self, value) -> int:
        code = self.code.get(value)
        if code is None:
            code = self.code[value] = len(self.values)
            self.values.append(value)
        return code


class _Postings:
    """Each term's docs: those at loading as one array cut by ``offsets`` (term code c's are
    ``docs[offsets[c]:offsets[c + 1]]``), then those appended since (a list per term)."""

    def __init__(self, offsets: np.ndarray | None = None, docs: np.ndarray | None = None):
        self.offsets = offsets if offsets is not None else np.zeros(1, dtype=np.int64)
        self.docs = docs if docs is not None else np.empty(0, dtype=np.int32)
        self.extra: dict[int, list[int]] = {}
        self._merged: dict[int, np.ndarray] = {}

    def add(self, code: int, doc: int) -> None:
        self.extra.setdefault(code, []).append(doc)
        self._merged.pop(code, None)

    def get(self, code: int) -> np.ndarray:
        base = self.docs[self.offsets[code]:self.offsets[code + 1]] if code + 1 < len(self.offsets) else self.docs[:0]
        extra = self.extra.get(code)
        if not extra:
            return base
        merged = self._merged.get(code)
        if merged is None:
            merged = self._merged[code] = np.concatenate([base, np.asarray(extra, dtype=np.int32)])
        return merged

    def nbytes(self) -> int:
        return self.offsets.nbytes + self.docs.nbytes


class _Members:
    """A listed facet's value codes per doc: those at loading sorted by doc and cut by ``starts`` (doc d's are
    ``codes[starts[d]:starts[d + 1]]``), then ``(doc, code)`` pairs of the docs appended since."""

    def __init__(self, starts: np.ndarray, codes: np.ndarray):
        self.starts, self.codes = starts, codes
        self.docs: np.ndarray | None = None  # each loaded code's doc (made when first needed)
        self.extra_docs, self.extra_codes = _Column([], np.int32), _Column([], np.int32)

    def add(self, doc: int, code: int) -> None:
        self.extra_docs.append(doc)
        self.extra_codes.append(code)

    def of(self, hits: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The value codes of the docs in ``hits`` (ascending; ``mask`` the same docs as a boolean array)."""
        loaded = hits[:np.searchsorted(hits, len(self.starts) - 1)]
        if len(loaded) * 4 > len(self.starts):
            # most docs are hits (a word in most datasets): every loaded code's doc looked up in the mask costs
            # less than gathering each hit's slice (6.8 against 2-3 ms for two facets at 300,000)
            if self.docs is None:
                self.docs = np.repeat(np.arange(len(self.starts) - 1, dtype=np.int32), np.diff(self.starts))
            codes = self.codes[mask[self.docs]]
            if self.extra_docs.size:
                codes = np.concatenate([codes, self.extra_codes.view()[mask[self.extra_docs.view()]]])
            return codes
        first = self.starts[loaded]
        lengths = self.starts[loaded + 1] - first
        total = int(lengths.sum())
        # each hit's slice of codes, gathered without a Python loop: its first index, minus where its slice starts
        # in the output, repeated over its length, plus the output's positions
        gather = np.repeat(first - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
        codes = self.codes[gather]
        if self.extra_docs.size:
            codes = np.concatenate([codes, self.extra_codes.view()[mask[self.extra_docs.view()]]])
        return codes

    def nbytes(self) -> int:
        return self.starts.nbytes + self.codes.nbytes + self.extra_docs.data.nbytes + self.extra_codes.data.nbytes


class Replica:
    """The searchable state of every dataset that is not deleted, at one position of the change log."""

    def __init__(self):
        self.lock = threading.Lock()
        #: docs loaded; their ids sorted (``sorted_ids``) and where each is (``id_order``), to find a changed one
        self.base = 0
        self.sorted_ids = np.empty(0, dtype="S36")
        self.id_order = np.empty(0, dtype=np.int64)
        #: dataset id -> its doc, for the docs appended since loading
        self.appended: dict[str, int] = {}
        #: live docs
        self.count = 0
        #: PostgreSQL: the transaction id of the log entry at ``pos`` (the same database's log, checked by following)
        self.pos_xid: int | None = None
        self.classes = _Codes()  # (owner_org, state, private as text)
        self.values = {name: _Codes() for name in (*SINGLE_FACETS, *LISTED_FACETS)}
        self.terms = _Codes()
        self.pos = 0
        self.snapshot: tuple[int, int, frozenset[int]] | None = None
        self.dead = 0
        # filled by _freeze (loading) and extended by _append (following)
        self.live = self.klass = self.modified = self.created = self.num_resources = self.num_tags = None
        self.idb = None
        self.single: dict[str, _Column] = {}
        self.members: dict[str, _Members] = {}
        #: answers since the last change applied (an LRU of KEPT_ANSWERS): (count, facet counts, page ids)
        self.answers: OrderedDict = OrderedDict()
        # per term, the docs holding it (title or body), and those holding it in their title (the score)
        self.any, self.title = _Postings(), _Postings()

    # -- building ----------------------------------------------------------------------------------

    def _freeze(self, idb: np.ndarray, columns: dict[str, np.ndarray], postings: tuple[_Postings, _Postings],
                members: dict[str, _Members], id_order: np.ndarray | None = None,
                sorted_ids: np.ndarray | None = None) -> None:
        """The columns of the loaded datasets (doc = position in ``idb``, their ids)."""
        self.base = self.count = len(idb)
        self.id_order = np.argsort(idb, kind="stable") if id_order is None else id_order
        self.sorted_ids = idb[self.id_order] if sorted_ids is None else sorted_ids
        self.live = _Column(np.ones(len(idb), dtype=bool), bool)
        self.idb = _Column(idb, "S36")
        self.klass = _Column(columns["class"], np.int32)
        self.modified = _Column(columns["modified"], np.int64)
        self.created = _Column(columns["created"], np.int64)
        self.num_resources = _Column(columns["resources"], np.int32)
        self.num_tags = _Column(columns["tags"], np.int32)
        self.single = {name: _Column(columns[name], np.int32) for name in SINGLE_FACETS}
        self.members = members
        self.any, self.title = postings

    def _compact(self) -> None:
        """Make every doc a loaded one (the lists appended to become the arrays of a loaded replica), for a replica
        built by appending alone (:func:`load_here`): no doc is dead."""
        assert self.dead == 0
        count = self.live.size
        idb = np.array(self.idb.view())
        columns = {"class": self.klass.view(), "modified": self.modified.view(), "created": self.created.view(),
                   "resources": self.num_resources.view(), "tags": self.num_tags.view(),
                   **{name: column.view() for name, column in self.single.items()}}
        postings = []
        for lists in (self.any, self.title):
            terms = len(self.terms.values)
            lengths = np.array([len(lists.extra.get(code, ())) for code in range(terms)], dtype=np.int64)
            offsets = np.zeros(terms + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            docs = np.array([doc for code in range(terms) for doc in lists.extra.get(code, ())], dtype=np.int32)
            postings.append(_Postings(offsets, docs))
        members = {}
        for name, listed in self.members.items():
            docs, codes = listed.extra_docs.view(), listed.extra_codes.view()
            order = np.argsort(docs, kind="stable")
            starts = np.zeros(count + 1, dtype=np.int64)
            np.cumsum(np.bincount(docs, minlength=count), out=starts[1:])
            members[name] = _Members(starts, codes[order].astype(np.int32))
        self.appended = {}
        self._freeze(idb, {name: np.array(values) for name, values in columns.items()}, tuple(postings), members)

    def _append(self, dataset_id: str, klass: int, modified: int, created: int, resources: int, tags: int,
                single: list[int], tokens: tuple[list[str], list[str]], members: list[tuple[str, str]]) -> None:
        doc = self.live.size
        self.appended[dataset_id] = doc
        self.count += 1
        self.live.append(True)
        self.idb.append(dataset_id.encode())
        self.klass.append(klass)
        self.modified.append(modified)
        self.created.append(created)
        self.num_resources.append(resources)
        self.num_tags.append(tags)
        for name, code in zip(SINGLE_FACETS, single):
            self.single[name].append(code)
        for facet, value in members:
            self.members[facet].add(doc, self.values[facet](value))
        for term, in_title in _terms(*tokens, self.terms):
            self.any.add(term, doc)
            if in_title:
                self.title.add(term, doc)

    def doc(self, dataset_id: str) -> int | None:
        """The live doc of a dataset, or None."""
        doc = self.appended.get(dataset_id)
        if doc is None and self.base:
            key = dataset_id.encode()
            at = int(np.searchsorted(self.sorted_ids, key))
            if at < self.base and self.sorted_ids[at] == key:
                doc = int(self.id_order[at])
        return doc if doc is not None and self.live.data[doc] else None

    def id_of(self, doc: int) -> str:
        return self.idb.data[doc].decode()

    def _remove(self, dataset_id: str) -> None:
        doc = self.doc(dataset_id)
        self.appended.pop(dataset_id, None)
        if doc is not None:
            self.live.data[doc] = False
            self.dead += 1
            self.count -= 1

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The docs (live or dead) whose tokens hold ``term``, and those whose title does; None if none does."""
        code = self.terms.code.get(term)
        if code is None:
            return None
        return self.any.get(code), self.title.get(code)

    def worn(self) -> bool:
        """Whether enough docs died since loading that loading again is due."""
        return self.dead > max(MIN_DEAD, MAX_DEAD_SHARE * self.count)

    def memory(self) -> int:
        """Bytes held by the arrays (not the Python lists and dicts beside them)."""
        total = self.any.nbytes() + self.title.nbytes() + sum(members.nbytes() for members in self.members.values())
        for column in (self.live, self.idb, self.klass, self.modified, self.created, self.num_resources,
                       self.num_tags, *self.single.values()):
            total += column.data.nbytes
        return total


def _terms(title: list[str], body: list[str], terms: _Codes) -> Iterable[tuple[int, bool]]:
    """``(term code, in the title)`` of a doc's tokens, each once (as the tsvector keeps each lexeme)."""
    seen = set()
    for token in title:
        if token not in seen and SAFE_TERM.match(token):
            seen.add(token)
            yield terms(token), True
    for token in body:
        if token not in seen and SAFE_TERM.match(token):
            seen.add(token)
            yield terms(token), False


# -- the rows read ----------------------------------------------------------------------------------

def _micros(column):
    return sa.cast(sa.extract("epoch", column) * 1000000, sa.BigInteger)


def _dataset_select(every: bool = False) -> sa.Select:
    """Every field a replica keeps of a dataset, as text: its id, then FIELD-separated class, sort keys and
    column facets, then its title and body tokens. ``every``: for all datasets (the counts of resources and tags
    grouped and joined once, not counted per dataset)."""
    search = sa.table("dataset_search", sa.column("dataset_id"), sa.column("title_tokens"), sa.column("body_tokens"))
    text = sa.String()
    source = Dataset.__table__.outerjoin(search, search.c.dataset_id == Dataset.id)
    if every:
        resources = sa.select(Resource.package_id.label("id"), sa.func.count().label("n")) \
            .group_by(Resource.package_id).subquery("resources")
        tags = sa.select(dataset_tag.c.dataset_id.label("id"), sa.func.count().label("n")) \
            .group_by(dataset_tag.c.dataset_id).subquery("tags")
        source = source.outerjoin(resources, resources.c.id == Dataset.id).outerjoin(tags, tags.c.id == Dataset.id)
        counts = [sa.func.coalesce(resources.c.n, 0), sa.func.coalesce(tags.c.n, 0)]
    else:
        counts = [NUM_RESOURCES, NUM_TAGS]
    fields = [Dataset.owner_org, Dataset.state, sa.cast(Dataset.private, text), _micros(Dataset.metadata_modified),
              _micros(Dataset.metadata_created), *counts, *(getattr(Dataset, name) for name in COLUMN_FACETS)]
    packed = None
    for field in fields:
        field = sa.func.coalesce(sa.cast(field, text), "")
        packed = field if packed is None else packed.op("||")(sa.literal(FIELD, text)).op("||")(field)
    tokens = sa.func.coalesce(search.c.title_tokens, "").op("||")(sa.literal(FIELD, text)) \
        .op("||")(sa.func.coalesce(search.c.body_tokens, ""))
    return (sa.select(sa.literal("#doc").label("kind"), Dataset.id.label("a"), packed.label("b"), tokens.label("c"))
            .select_from(source).where(Dataset.state != "deleted"))


def _member_select() -> sa.Select:
    return sa.select(sa.literal("#mem"), facet_member.c.dataset_id, facet_member.c.facet, facet_member.c.value) \
        .where(facet_member.c.facet.in_(LISTED_FACETS))


def _meta_selects() -> list[sa.Select]:
    """The log's position and the transaction of its entry there, its horizon, the snapshot."""
    text = sa.String()
    newest = sa.select(sa.func.max(change_log.c.seq)).scalar_subquery()
    return [sa.select(sa.literal("#pos"), sa.cast(sa.func.coalesce(sa.func.max(change_log.c.seq), 0), text),
                      sa.null(), sa.null()),
            sa.select(sa.literal("#posxid"), sa.cast(change_log.c.xid, text), sa.null(), sa.null())
            .where(change_log.c.seq == newest),
            sa.select(sa.literal("#horizon"), sa.cast(change_horizon.c.seq, text), sa.cast(change_horizon.c.xid, text),
                      sa.null()),
            sa.select(sa.literal("#snapshot"), sa.cast(sa.func.txid_current_snapshot(), text),
                      sa.cast(sa.func.txid_current_if_assigned(), text), sa.null())]


def _snapshot(text: str) -> tuple[int, int, frozenset[int]]:
    xmin, xmax, xip = text.split(":")
    return int(xmin), int(xmax), frozenset(int(x) for x in xip.split(",") if x)


class _Dataset:
    """One dataset's row from the follow statement, decoded against a replica's codes."""

    __slots__ = ("klass", "modified", "created", "resources", "tags", "single", "tokens")

    def __init__(self, replica: Replica, packed: str, tokens: str):
        owner, state, private, modified, created, resources, tags, *columns = packed.split(FIELD)
        self.klass = replica.classes((owner, state, private))
        self.modified, self.created = int(modified), int(created)
        self.resources, self.tags = int(resources or 0), int(tags or 0)
        self.single = [replica.values["organization"](owner) if owner else -1,
                       *(replica.values[name](value) if value else -1 for name, value in zip(COLUMN_FACETS, columns))]
        title, body = tokens.split(FIELD)
        self.tokens = (title.split(), body.split())


# -- loading ----------------------------------------------------------------------------------------

def _batches(connection: sa.Connection, statement: sa.Select, size: int) -> Iterable[list[list]]:
    """A statement's rows in batches, each as its columns: the driver's own server-side cursor (SQLAlchemy's
    Row per row cost a quarter of the loading)."""
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    with connection.connection.driver_connection.cursor(name="search_replica") as cursor:
        cursor.execute(compiled.string, compiled.params)
        while rows := cursor.fetchmany(size):
            yield [list(column) for column in zip(*rows)]


def _coded(series: pl.Series, codes: _Codes, *, blank: bool = False) -> np.ndarray:
    """Each value's code in ``codes`` (numbered in order of first sight); ``""`` is -1 unless ``blank``."""
    for value in series.unique(maintain_order=True).to_list():
        if value or blank:
            codes(value)
    if not codes.values:
        return np.full(len(series), -1, dtype=np.int32)
    return series.replace_strict(codes.values, list(range(len(codes.values))), default=-1,
                                 return_dtype=pl.Int32).to_numpy()


class _Loader:
    """Builds a replica's columns batch by batch (polars, numpy): decoding each token in Python took about a
    minute at 300,000 datasets (33 million postings), and the whole catalogue's token strings at once 4 GB."""

    NAMES = ("owner", "state", "private", "modified", "created", "resources", "tags", *COLUMN_FACETS)

    def __init__(self, replica: Replica):
        self.replica = replica
        self.ids: list[str] = []
        self.columns: dict[str, list[np.ndarray]] = {}
        self.postings: list[tuple[np.ndarray, np.ndarray]] = []  # per batch: (term codes, postings), by code
        self.member_rows: list[pl.DataFrame] = []
        self.title_counts: list[np.ndarray] = []  # per batch: how many of each term's postings are in a title

    def datasets(self, ids: list[str], packed: list[str], tokens: list[str]) -> None:
        replica, first = self.replica, len(self.ids)
        self.ids.extend(ids)
        fields = pl.Series(packed, dtype=pl.String).str.split_exact(FIELD, len(self.NAMES) - 1) \
            .struct.rename_fields(list(self.NAMES)).struct.unnest()
        # a visibility class is (owner_org, state, private), numbered as the follow statement's rows are
        joined = fields.select(pl.concat_str(["owner", "state", "private"], separator=FIELD).alias("c"))["c"]
        for value in joined.unique(maintain_order=True).to_list():
            replica.classes(tuple(value.split(FIELD)))
        batch = {"class": joined.replace_strict([FIELD.join(c) for c in replica.classes.values],
                                                list(range(len(replica.classes.values))),
                                                return_dtype=pl.Int32).to_numpy(),
                 "modified": fields["modified"].cast(pl.Int64).to_numpy(),
                 "created": fields["created"].cast(pl.Int64).to_numpy(),
                 "resources": fields["resources"].cast(pl.Int32).to_numpy(),
                 "tags": fields["tags"].cast(pl.Int32).to_numpy(),
                 "organization": _coded(fields["owner"], replica.values["organization"]),
                 **{name: _coded(fields[name], replica.values[name]) for name in COLUMN_FACETS}}
        for name, values in batch.items():
            self.columns.setdefault(name, []).append(values)
        # The tsvector leaves out what is not a word token (index.py). Letters, numbers and "_" are word
        # characters in Python's sense; a row with anything else (not written by today's analysis) is checked
        # token by token in Python.
        series = pl.Series(tokens, dtype=pl.String)
        for number in np.flatnonzero(series.str.contains(r"[^\p{L}\p{N}_ \x1e]").fill_null(False).to_numpy()):
            text = tokens[number]
            tokens[number] = FIELD.join(" ".join(t for t in part.split() if SAFE_TERM.match(t))
                                        for part in text.split(FIELD))
        documents = pl.Series(tokens, dtype=pl.String).str.split_exact(FIELD, 1) \
            .struct.rename_fields(["title", "body"]).struct.unnest()
        doc = pl.int_range(first, first + len(ids), dtype=pl.Int32, eager=True)
        # A token in both the title and the body of a doc is in its term's postings twice (once with the title
        # bit): counting a doc's terms and scores tolerates that (see _evaluate), dropping it cost a sort.
        exploded = pl.concat([
            pl.DataFrame({"post": doc * 2 + 1, "token": documents["title"].str.split(" ")}).explode("token"),
            pl.DataFrame({"post": doc * 2, "token": documents["body"].str.split(" ")}).explode("token"),
        ]).filter(pl.col("token").is_not_null() & (pl.col("token") != ""))
        for token in exploded["token"].unique(maintain_order=True).to_list():
            replica.terms(token)
        if exploded.height:
            codes = exploded["token"].cast(pl.Enum(replica.terms.values)).to_physical().to_numpy().astype(np.int32)
            order = np.argsort(codes, kind="stable")
            posts = exploded["post"].to_numpy()[order].astype(np.int32)
            codes = codes[order]
            self.title_counts.append(np.bincount(codes[(posts & 1).astype(bool)], minlength=len(replica.terms.values)))
            self.postings.append((codes, posts))

    def members(self, dataset_ids: list[str], facets: list[str], values: list[str]) -> None:
        self.member_rows.append(pl.DataFrame({"id": dataset_ids, "facet": facets, "value": values},
                                             schema={"id": pl.String, "facet": pl.String, "value": pl.String}))

    def finish(self) -> None:
        replica, terms = self.replica, len(self.replica.terms.values)
        columns = {name: np.concatenate(parts) for name, parts in self.columns.items()}
        if not self.ids:
            columns = {name: np.empty(0, dtype=np.int64) for name in ("class", "modified", "created", "resources",
                                                                       "tags", *SINGLE_FACETS)}
        # the postings of each batch (sorted by term) placed after the earlier batches' (a counting sort)
        offsets = np.zeros(terms + 1, dtype=np.int64)
        for codes, _posts in self.postings:
            offsets[1:] += np.bincount(codes, minlength=terms)
        np.cumsum(offsets, out=offsets)
        packed = np.empty(int(offsets[-1]), dtype=np.int32)
        cursor = offsets[:-1].copy()
        while self.postings:
            codes, posts = self.postings.pop(0)
            starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
            runs = np.diff(np.r_[starts, len(codes)])
            first = codes[starts]
            packed[np.repeat(cursor[first] - starts, runs) + np.arange(len(codes))] = posts
            cursor[first] += runs
        # split into every doc of a term and its title docs (in the same order of terms)
        title_offsets = np.zeros(terms + 1, dtype=np.int64)
        for counts in self.title_counts:
            title_offsets[1:len(counts) + 1] += counts
        np.cumsum(title_offsets, out=title_offsets)
        in_title = (packed & 1).astype(bool)
        title = _Postings(title_offsets, packed[in_title] >> 1)
        del in_title
        np.right_shift(packed, 1, out=packed)
        postings = (_Postings(offsets, packed), title)
        # the listed facets' member rows, numbered by doc and sorted by it
        members = pl.concat(self.member_rows) if self.member_rows else \
            pl.DataFrame(schema={"id": pl.String, "facet": pl.String, "value": pl.String})
        numbered = pl.DataFrame({"id": self.ids, "doc": pl.int_range(0, len(self.ids), dtype=pl.Int32, eager=True)},
                                schema={"id": pl.String, "doc": pl.Int32})
        members = members.join(numbered, on="id", how="inner")
        listed = {}
        for name in LISTED_FACETS:
            part = members.filter(pl.col("facet") == name).sort("doc")
            docs = part["doc"].to_numpy()
            starts = np.zeros(len(self.ids) + 1, dtype=np.int64)
            np.cumsum(np.bincount(docs, minlength=len(self.ids)) if len(docs) else starts[1:], out=starts[1:])
            listed[name] = _Members(starts, _coded(part["value"], replica.values[name], blank=True))
        replica._freeze(np.array(self.ids, dtype="S36") if self.ids else np.empty(0, dtype="S36"), columns,
                        postings, listed)


def _read_meta(connection: sa.Connection, replica: Replica) -> None:
    """The log's position, its entry's transaction and the snapshot, in a ``REPEATABLE READ`` transaction begun
    (its first statement: the snapshot of everything read after it); JIT off for the transaction."""
    connection.execute(sa.text("SELECT set_config('jit', 'off', true)"))
    for kind, a, _b, _c in connection.execute(sa.union_all(*_meta_selects())):
        if kind == "#pos":
            replica.pos = int(a)
        elif kind == "#posxid":
            replica.pos_xid = int(a) if a is not None else None
        elif kind == "#snapshot":
            replica.snapshot = _snapshot(a)


def _empty() -> Replica:
    """A replica of no dataset, ready to have datasets appended."""
    replica = Replica()
    empty = np.empty(0, dtype=np.int64)
    replica._freeze(np.empty(0, dtype="S36"), {name: empty for name in ("class", "modified", "created", "resources",
                                                                        "tags", *SINGLE_FACETS)},
                    (_Postings(), _Postings()), {name: _Members(np.zeros(1, dtype=np.int64), np.empty(0, np.int32))
                                                 for name in LISTED_FACETS})
    return replica


def load_here(engine: sa.Engine) -> Replica:
    """A replica of every dataset that is not deleted, read in one snapshot and built in this process by the code
    that applies changes (:meth:`Replica._append`), then compacted: for small catalogues (under
    :data:`LOAD_IN_REQUEST`). Not polars, whose thread pool makes a process that used it unsafe to fork (the sync
    engine's transform workers are forked; a forked worker hung in the test suite)."""
    replica = _empty()
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            _read_meta(connection, replica)
            rows = connection.execute(_dataset_select(every=True)).all()
            members: dict[str, list[tuple[str, str]]] = {}
            for _kind, dataset_id, facet, value in connection.execute(_member_select()):
                members.setdefault(dataset_id, []).append((facet, value))
    for _kind, dataset_id, packed, tokens in rows:
        found = _Dataset(replica, packed, tokens)
        replica._append(dataset_id, found.klass, found.modified, found.created, found.resources, found.tags,
                        found.single, found.tokens, members.get(dataset_id, []))
    replica._compact()
    stats["loaded"] += 1
    return replica


def load(engine: sa.Engine) -> Replica:
    """A replica of every dataset that is not deleted, read in one snapshot (``REPEATABLE READ``), built
    column-wise with polars: only in a process of its own (:func:`_load_elsewhere`), see :func:`load_here`."""
    replica = Replica()
    loader = _Loader(replica)
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            _read_meta(connection, replica)  # (no JIT: it compiled the whole catalogue's read for 1 s)
            for _kinds, ids, packed, tokens in _batches(connection, _dataset_select(every=True), 20_000):
                loader.datasets(ids, packed, tokens)
            for _kinds, dataset_ids, facets, values in _batches(connection, _member_select(), 100_000):
                loader.members(dataset_ids, facets, values)
    loader.finish()
    stats["loaded"] += 1
    return replica


# -- replica files, shared by the processes of one host -----------------------------------------------

#: The layout of a replica directory (its arrays in arrays.bin, where meta.json says); another value is not read.
FILE_FORMAT = 2
_ARRAYS = ("idb", "sorted_ids", "id_order", "klass", "modified", "created", "num_resources", "num_tags")


def _database_key(engine: sa.Engine) -> str:
    """Names a database's replica files: its URL (without the password) and its oid (a database dropped and
    created again under the same name is another)."""
    with engine.connect() as connection:
        oid = connection.scalar(sa.text("SELECT oid FROM pg_database WHERE datname = current_database()"))
    url = engine.url.render_as_string(hide_password=True)
    return hashlib.sha256(f"{url} {oid}".encode()).hexdigest()[:16]


def _save(replica: Replica, directory: Path, key: str) -> Path:
    """Write a freshly loaded replica's arrays and codes to a new directory (written aside, then renamed)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    aside = directory / f".{key}-{uuid.uuid4().hex}"
    aside.mkdir(mode=0o700)
    arrays = {name: getattr(replica, name) for name in ("sorted_ids", "id_order")}
    arrays.update({name: getattr(replica, name).view() for name in _ARRAYS if name not in arrays})
    arrays.update({f"single.{name}": column.view() for name, column in replica.single.items()})
    arrays.update({f"members.{name}.starts": members.starts for name, members in replica.members.items()})
    arrays.update({f"members.{name}.codes": members.codes for name, members in replica.members.items()})
    for name in ("any", "title"):
        postings = getattr(replica, name)
        arrays[f"{name}.offsets"], arrays[f"{name}.docs"] = postings.offsets, postings.docs
    layout, offset = {}, 0
    with open(aside / "arrays.bin", "wb") as out:  # one file: one mapping (and one descriptor) per replica
        for name, values in arrays.items():
            values = np.ascontiguousarray(values)
            padding = -offset % 64
            out.write(b"\0" * padding)
            offset += padding
            values.tofile(out)
            layout[name] = [values.dtype.str, list(values.shape), offset]
            offset += values.nbytes
    xmin, xmax, xip = replica.snapshot
    (aside / "meta.json").write_text(json.dumps({
        "format": FILE_FORMAT, "arrays": layout, "pos": replica.pos, "pos_xid": replica.pos_xid, "snapshot": [xmin, xmax, sorted(xip)],
        "terms": replica.terms.values, "classes": replica.classes.values,
        "values": {name: codes.values for name, codes in replica.values.items()}}, ensure_ascii=False))
    final = directory / f"{key}-{replica.pos:020d}-{uuid.uuid4().hex[:8]}"
    aside.rename(final)
    return final


def _open(path: Path) -> Replica:
    """A replica on a directory's arrays, memory-mapped read-only: the processes of a host share their pages.
    What a process appends or marks dead afterwards is its own."""
    meta = json.loads((path / "meta.json").read_text())
    if meta["format"] != FILE_FORMAT:
        raise ValueError(f"replica format {meta['format']}, expected {FILE_FORMAT}")

    with open(path / "arrays.bin", "rb") as arrays:
        mapped = mmap.mmap(arrays.fileno(), 0, access=mmap.ACCESS_READ) if os.fstat(arrays.fileno()).st_size \
            else b""

    def array(name: str) -> np.ndarray:
        dtype, shape, offset = meta["arrays"][name]
        count = int(np.prod(shape))
        if not count:
            return np.empty(shape, dtype=dtype)
        return np.frombuffer(mapped, dtype=dtype, count=count, offset=offset).reshape(shape)

    replica = Replica()
    replica.pos, replica.pos_xid = meta["pos"], meta["pos_xid"]
    xmin, xmax, xip = meta["snapshot"]
    replica.snapshot = (xmin, xmax, frozenset(xip))
    for codes, values in [(replica.terms, meta["terms"]), (replica.classes, [tuple(c) for c in meta["classes"]]),
                          *((replica.values[name], meta["values"][name]) for name in replica.values)]:
        codes.values = list(values)
        codes.code = {value: number for number, value in enumerate(codes.values)}
    columns = {"class": array("klass"), "modified": array("modified"), "created": array("created"),
               "resources": array("num_resources"), "tags": array("num_tags"),
               **{name: array(f"single.{name}") for name in SINGLE_FACETS}}
    members = {name: _Members(array(f"members.{name}.starts"), array(f"members.{name}.codes"))
               for name in LISTED_FACETS}
    postings = tuple(_Postings(array(f"{name}.offsets"), array(f"{name}.docs")) for name in ("any", "title"))
    replica._freeze(array("idb"), columns, postings, members, array("id_order"), array("sorted_ids"))
    stats["opened"] += 1
    return replica


def _saved(directory: Path, key: str) -> list[tuple[int, Path]]:
    """The database's replica directories, ``(position, path)``, oldest first."""
    found = []
    for path in directory.glob(f"{key}-*"):
        try:
            found.append((int(path.name.split("-")[1]), path))
        except (IndexError, ValueError):
            continue
    return sorted(found)


@contextlib.contextmanager
def _exclusive(directory: Path, key: str):
    """One process of the host loads a database's replica at a time (the others wait and open its file)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(directory / f"{key}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _load_elsewhere(engine: sa.Engine, directory: Path, key: str) -> Path:
    """Load and write a replica in a process of its own (``python -m catalog.search.memory``), so that the memory
    loading takes (1.2 GB at its peak at 300,000 datasets, 0.5 GB of it kept by the allocators afterwards) is
    given back when it ends; the database URL goes in its environment, not on its command line."""
    environment = {**os.environ, REPLICA_URL: engine.url.render_as_string(hide_password=False)}
    done = subprocess.run([sys.executable, "-m", __name__, str(directory), key], env=environment,
                          capture_output=True, text=True, timeout=LOAD_TIMEOUT, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"loading the search replica in a process failed ({done.returncode}): {done.stderr[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def _obtain(holder: "_Holder", engine: sa.Engine, elsewhere: bool = False) -> Replica:
    """The holder's next replica: loaded from the database, or, with a directory, the newest replica file of the
    database past ``holder.after`` (another process loaded it), else loaded (``elsewhere``: by a process of its
    own) and written there for the others."""
    if holder.directory is None:
        return load_here(engine)
    if holder.key is None:
        holder.key = _database_key(engine)
    with _exclusive(holder.directory, holder.key):
        saved = _saved(holder.directory, holder.key)
        if saved and (holder.after is None or saved[-1][0] > holder.after):
            try:
                return _open(saved[-1][1])
            except Exception:  # noqa: BLE001 — a damaged or foreign file: load instead
                logger.exception("could not open the search replica file %s; loading from the database", saved[-1][1])
        if elsewhere:
            path = _load_elsewhere(engine, holder.directory, holder.key)
        else:
            path = _save(load_here(engine), holder.directory, holder.key)
        for _pos, old in saved:  # a process that opened one keeps its pages (unlinked files stay readable)
            shutil.rmtree(old, ignore_errors=True)
        for aside in holder.directory.glob(f".{holder.key}-*"):  # left by a process killed while writing
            if time.time() - aside.stat().st_mtime > 3600:
                shutil.rmtree(aside, ignore_errors=True)
        return _open(path)


# -- one replica per engine ---------------------------------------------------------------------------

class _Holder:
    """An engine's replica, and its loading."""

    def __init__(self):
        self.lock = threading.Lock()
        self.replica: Replica | None = None
        self.loading: threading.Event | None = None  # set when the loading under way ends
        self.failed_at: float | None = None
        self.load_seconds: float | None = None
        #: where the host's processes keep replica files (None: in this process's memory only)
        self.directory: Path | None = None
        self.key: str | None = None  # the database's name among them
        #: a replica file at or before this log position is not to be opened (the replica being replaced was there)
        self.after: int | None = None


_holders: "weakref.WeakKeyDictionary[sa.Engine, _Holder]" = weakref.WeakKeyDictionary()
_holders_lock = threading.Lock()
#: Seconds before loading is tried again after it failed (the database was down, say).
RETRY_AFTER = 60.0
#: The environment variable that gives a loading process its database URL; and how long it may take.
REPLICA_URL = "CATALOG_SEARCH_REPLICA_URL"
LOAD_TIMEOUT = 3600


def attach(engine: sa.Engine, enabled: bool = True, directory: Path | None = None) -> None:
    """Answer ``engine``'s plain-word searches from a replica (PostgreSQL only: see the module's text), kept in
    files under ``directory`` that the host's processes share (None: in each process's memory)."""
    with _holders_lock:
        if enabled and engine.dialect.name == "postgresql":
            _holders.setdefault(engine, _Holder()).directory = directory
        else:
            _holders.pop(engine, None)


def _holder(session: Session) -> _Holder | None:
    return _holders.get(session.get_bind().engine)


def _load_into(holder: _Holder, engine: sa.Engine, done: threading.Event, elsewhere: bool = False) -> None:
    """Load a replica and make it the holder's; on failure log it, keep what was there and try again later."""
    started = time.perf_counter()
    try:
        replica = _obtain(holder, engine, elsewhere)
    except Exception:  # noqa: BLE001 — the database answers the searches meanwhile
        logger.exception("loading the search replica failed; searches are answered by the database")
        with holder.lock:
            holder.loading, holder.failed_at = None, time.monotonic()
        done.set()
        return
    with holder.lock:
        holder.replica, holder.loading, holder.failed_at, holder.after = replica, None, None, None
        holder.load_seconds = time.perf_counter() - started
    done.set()


def _small(session: Session) -> bool:
    return session.execute(sa.select(sa.func.count()).select_from(
        sa.select(Dataset.id).limit(LOAD_IN_REQUEST).subquery())).scalar() < LOAD_IN_REQUEST


def _start_loading(session: Session, holder: _Holder, *, wait: bool) -> Replica | None:
    """Load the engine's replica: here if the catalogue is small or ``wait``, else in a thread. Returns the
    holder's replica afterwards (None while a thread loads it and no older one serves)."""
    with holder.lock:
        done = holder.loading
        if done is None:
            if holder.failed_at is not None and time.monotonic() - holder.failed_at < RETRY_AFTER and not wait:
                return holder.replica
            done = holder.loading = threading.Event()
            ours = True
        else:
            ours = False
    if not ours:  # another request loads it
        if wait:
            done.wait()
        return holder.replica
    engine = session.get_bind().engine
    if not wait and _small(session):
        _load_into(holder, engine, done)
    elif wait:
        _load_into(holder, engine, done, True)
    else:
        threading.Thread(target=_load_into, args=(holder, engine, done, True), name="search-replica",
                         daemon=True).start()
    return holder.replica


def warm(engine: sa.Engine) -> None:
    """Start loading ``engine``'s replica in a thread now (a web worker at boot), if it answers searches."""
    holder = _holders.get(engine)
    if holder is None:
        return
    with holder.lock:
        if holder.replica is not None or holder.loading is not None:
            return
        done = holder.loading = threading.Event()
    threading.Thread(target=_load_into, args=(holder, engine, done, True), name="search-replica", daemon=True).start()


def replica_of(session: Session, *, wait: bool = False) -> Replica | None:
    """The engine's replica, loaded first if there is none (see :func:`_start_loading`)."""
    holder = _holder(session)
    if holder is None:
        return None
    replica = holder.replica
    if replica is not None:
        return replica
    return _start_loading(session, holder, wait=wait)


def _reload(session: Session, replica: Replica, *, keep: bool = False) -> None:
    """Load again. ``keep``: ``replica`` is still exact and serves until the new one is loaded; else it is dropped
    at once (if still current)."""
    holder = _holder(session)
    if holder is None:
        return
    with holder.lock:
        holder.after = replica.pos if holder.after is None else max(holder.after, replica.pos)
        if not keep:
            if holder.replica is replica:
                holder.replica = None
            return
    _start_loading(session, holder, wait=False)


def load_seconds(session: Session) -> float | None:
    """How long the engine's replica took to load (for the benchmark)."""
    holder = _holder(session)
    return holder.load_seconds if holder else None


def forget(engine: sa.Engine) -> None:
    """Drop the engine's replica (the tests' and the benchmark's fresh starts)."""
    holder = _holders.get(engine)
    if holder is not None:
        with holder.lock:
            holder.replica = None


# -- following and answering --------------------------------------------------------------------------

def eligible(terms: list[str], order: list[tuple[str, bool]]) -> bool:
    """Whether a plain-word search in this order can be answered here (numbers and times, id ascending)."""
    if not terms or not all(SAFE_TERM.match(term) for term in terms):
        return False
    return all(key in NUMERIC_KEYS or (key == "id" and not desc) for key, desc in order)


def _follow_statement(readable_clause, states: list[str], include_private: bool) -> sa.CompoundSelect:
    """One statement (one snapshot): the datasets logged since ``:pos`` or by the transactions a snapshot could
    not see (``:xip``, ``:xmax``), their rows and members, the log's position, horizon and the snapshot, and the
    classes the reader may see."""
    logged = (sa.select(change_log.c.dataset_id)
              .where(sa.or_(change_log.c.seq > sa.bindparam("pos", 0, type_=sa.BigInteger),
                            change_log.c.xid == sa.any_(sa.bindparam("xip", [], type_=ARRAY(sa.BigInteger))),
                            change_log.c.xid >= sa.bindparam("xmax", 0, type_=sa.BigInteger)))
              .distinct().limit(BOUND + 1).cte("changed").prefix_with("MATERIALIZED"))
    changed = sa.select(logged.c.dataset_id)
    text = sa.String()
    table = facet_count
    readable = [table.c.facet == "", table.c.state.in_(states), readable_clause]
    if not include_private:
        readable.append(table.c.private.is_(False))
    classes = sa.select(sa.literal("#class"), table.c.owner_org, table.c.state, sa.cast(table.c.private, text)) \
        .where(*readable).distinct()
    at = sa.select(sa.literal("#at"), sa.cast(change_log.c.xid, text), sa.null(), sa.null()) \
        .where(change_log.c.seq == sa.bindparam("pos", 0, type_=sa.BigInteger))
    return sa.union_all(
        _dataset_select().where(Dataset.id.in_(changed)),
        _member_select().where(facet_member.c.dataset_id.in_(changed)),
        sa.select(sa.literal("#changed"), logged.c.dataset_id, sa.null(), sa.null()),
        classes, at, *_meta_selects())


#: The follow statement compiled, per engine, reader's visibility clause (its structure and bound values: the rule
#: decides what tells readers apart) and include flags: building and compiling it took about 5 ms a search.
_compiled: "weakref.WeakKeyDictionary[sa.Engine, OrderedDict]" = weakref.WeakKeyDictionary()
_COMPILED_KEEP = 512


def _follow(session: Session, actor: User | None, states: list[str], include_private: bool, pos: int,
            snapshot: tuple[int, int, frozenset[int]]) -> list[tuple]:
    """The follow statement's rows."""
    engine = session.get_bind().engine
    readable = rules.readable_datasets_clause(session, actor, facet_count)
    cache_key = readable._generate_cache_key()
    key = (cache_key.key, tuple(repr(bind.effective_value) for bind in cache_key.bindparams), tuple(states),
           include_private)
    with _holders_lock:
        kept = _compiled.setdefault(engine, OrderedDict())
        found = kept.get(key)
        if found is not None:
            kept.move_to_end(key)
    if found is None:
        compiled = _follow_statement(readable, states, include_private).compile(
            dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
        found = (compiled.string, dict(compiled.params))
        with _holders_lock:
            kept[key] = found
            while len(kept) > _COMPILED_KEEP:
                kept.popitem(last=False)
    sql, params = found
    _xmin, xmax, xip = snapshot
    return session.connection().exec_driver_sql(sql, {**params, "pos": pos, "xmax": xmax, "xip": sorted(xip)}).all()


class _Followed:
    """What one run of the follow statement returned."""

    def __init__(self, fetched: Iterable[tuple]):
        self.changed, self.rows, self.members, self.classes = set(), {}, {}, []
        self.pos, self.horizon, self.snapshot, self.own = 0, (0, 0), None, False
        self.pos_xid = self.at = None  # the transactions of the entries at the new position and the old one
        for kind, a, b, c in fetched:
            if kind == "#doc":
                self.rows[a] = (b, c)
            elif kind == "#mem":
                self.members.setdefault(a, []).append((b, c))
            elif kind == "#changed":
                self.changed.add(a)
            elif kind == "#class":
                self.classes.append((a, b, c))
            elif kind == "#pos":
                self.pos = int(a)
            elif kind == "#posxid":
                self.pos_xid = int(a) if a is not None else None
            elif kind == "#at":
                self.at = int(a) if a is not None else None
            elif kind == "#horizon":
                self.horizon = (int(a), int(b))
            elif kind == "#snapshot":
                self.snapshot, self.own = _snapshot(a), b is not None


def answer(session: Session, actor: User | None, terms: list[str], *, states: list[str], include_private: bool,
           facet_fields: list[str], order: list[tuple[str, bool]], start: int, rows: int
           ) -> tuple[int, dict[str, list[tuple[str, int]]], list[str]] | None:
    """``(count, counts per facet value, page ids)`` of a plain-word search, or None (ask the database)."""
    if not eligible(terms, order) or _holder(session) is None:
        return None
    for _attempt in range(2):
        replica = replica_of(session)
        if replica is None:
            break
        with replica.lock:
            pos, snapshot, pos_xid = replica.pos, replica.snapshot, replica.pos_xid
        read = _Followed(_follow(session, actor, states, include_private, pos, snapshot))
        if read.own:
            break  # the reader's own writes are in its snapshot only
        if None in read.changed or len(read.changed) > BOUND or read.horizon[0] > pos or read.horizon[1] > snapshot[0] \
                or (pos and read.horizon[0] < pos and read.at != pos_xid):
            # everything may have changed, too much did, entries this read needed were pruned, or the log is not
            # the one the replica was read from (a replica file of a database restored since)
            _reload(session, replica)
            continue
        with replica.lock:
            if not snapshot_contains(read.snapshot, replica.snapshot):
                break  # an older snapshot than the replica's (a REPEATABLE READ reader), or moved past it
            for dataset_id in read.changed:
                replica._remove(dataset_id)
                row = read.rows.get(dataset_id)
                if row is not None:
                    found = _Dataset(replica, *row)
                    replica._append(dataset_id, found.klass, found.modified, found.created, found.resources,
                                    found.tags, found.single, found.tokens, read.members.get(dataset_id, []))
            replica.pos, replica.snapshot, replica.pos_xid = read.pos, read.snapshot, read.pos_xid
            if read.changed:
                replica.answers.clear()
            stats["followed" if read.changed else "answered"] += 1
            classes = sorted(replica.classes.code[c] for c in read.classes if c in replica.classes.code)
            # the same question of the same state (nothing applied since it was answered) has the same answer
            key = (tuple(terms), tuple(classes), tuple(facet_fields), tuple(order), start, rows)
            result = replica.answers.get(key)
            if result is None:
                result = _evaluate(replica, terms, classes, facet_fields, order, start, rows)
                replica.answers[key] = result
                while len(replica.answers) > KEPT_ANSWERS:
                    replica.answers.popitem(last=False)
            else:
                replica.answers.move_to_end(key)
                stats["repeated"] += 1
            worn = replica.worn()
        if worn:  # still exact, only slower and bigger: it serves while another is loaded
            _reload(session, replica, keep=True)
        return result
    stats["declined"] += 1
    return None


def _evaluate(replica: Replica, terms: list[str], classes: list[int], facet_fields: list[str],
              order: list[tuple[str, bool]], start: int, rows: int
              ) -> tuple[int, dict[str, list[tuple[str, int]]], list[str]]:
    counted: dict[str, list[tuple[str, int]]] = {name: [] for name in facet_fields}
    postings = [replica.postings(term) for term in terms]
    if any(posting is None for posting in postings):
        return 0, counted, []
    n = replica.live.size
    found = np.zeros(n, dtype=np.int16)
    score = np.zeros(n, dtype=np.int16)
    for docs, title in postings:
        # A doc can be in a term's docs twice (the token in its title and its body, see _Loader): fancy-index
        # increments add once per distinct index, so each doc counts once per term.
        found[docs] += 1
        score[title] += 1
    readable = np.zeros(max(len(replica.classes.values), 1), dtype=bool)
    readable[classes] = True
    mask = (found == len(terms)) & replica.live.view() & readable[replica.klass.view()]
    hits = np.flatnonzero(mask)
    for name in facet_fields:
        values = replica.values[name].values
        if name in SINGLE_FACETS:
            codes = replica.single[name].view()[hits]
            codes = codes[codes >= 0]
        else:
            codes = replica.members[name].of(hits, mask)
        tally = np.bincount(codes, minlength=len(values)) if len(codes) else np.zeros(0, dtype=np.int64)
        counted[name] = [(values[code], int(tally[code])) for code in np.flatnonzero(tally)]
    return len(hits), counted, _page(replica, hits, score, order, start, rows)


def _page(replica: Replica, hits: np.ndarray, score: np.ndarray, order: list[tuple[str, bool]],
          start: int, rows: int) -> list[str]:
    """The ids of hits ``start`` to ``start + rows`` in ``order``, then the newest first, then by id."""
    last = min(start + rows, len(hits))
    if last <= start:
        return []
    sources = {"score": score, "metadata_modified": replica.modified.view(), "metadata_created": replica.created.view(),
               "num_resources": replica.num_resources.view(), "num_tags": replica.num_tags.view()}
    keys = []
    for key, desc in [*order, ("metadata_modified", True)]:
        if key == "id":
            break  # ascending id is the last tie-breaker anyway
        values = sources[key][hits].astype(np.int64)
        keys.append(-values if desc else values)
    # adjacent keys merged into one integer where their ranges fit in 62 bits, so that one partition finds the
    # candidates for the page (ties on the first merged key only are sorted exactly below)
    merged, bits = [], 0
    for values in keys:
        low = int(values.min())
        shifted = values - low
        width = max(int(shifted.max()).bit_length(), 1)
        if merged and bits + width <= 62:
            merged[-1] = (merged[-1] << width) | shifted
            bits += width
        else:
            merged.append(shifted)
            bits = width
    first = merged[0]
    if last < len(hits):
        kth = np.partition(first, last - 1)[last - 1]
        candidates = np.flatnonzero(first <= kth)
    else:
        candidates = np.arange(len(hits))
    chosen = hits[candidates]
    ranked = np.lexsort([replica.idb.view()[chosen], *(values[candidates] for values in reversed(merged))])
    return [replica.id_of(doc) for doc in chosen[ranked][start:last]]


def _main(argv: list[str]) -> None:
    """``python -m catalog.search.memory DIRECTORY KEY``: load the replica of the database at
    ``$CATALOG_SEARCH_REPLICA_URL``, write it under DIRECTORY and print its path (see :func:`_load_elsewhere`)."""
    directory, key = Path(argv[0]), argv[1]
    engine = make_engine(os.environ[REPLICA_URL])
    try:
        print(_save(load(engine), directory, key))
    finally:
        engine.dispose()


if __name__ == "__main__":
    _main(sys.argv[1:])
