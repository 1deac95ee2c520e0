"""The full-text index of datasets: FTS5 on SQLite, a tsvector with a GIN index on PostgreSQL.

Tokens come from :mod:`catalog.search.text` (segmented, folded, with pinyin for titles), so both
engines only ever see space-separated tokens made of letters, digits, CJK characters and ``_``.
The index is written in the caller's transaction: a dataset is findable when its create commits.
"""
from __future__ import annotations

import re
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.orm import Session, selectinload

from ..datasets.models import Dataset
from . import cache, text

#: A token the index keeps (and a tsvector lexeme the replica in catalog.search.memory mirrors): word characters
SAFE_TERM = re.compile(r"^\w+$")


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def document_of(dataset: Dataset) -> dict[str, str]:
    """The token strings of one dataset, per weighted column."""
    organization = dataset.organization
    return text.index_document({
        "title": dataset.title or dataset.name,
        "notes": dataset.notes or "",
        "tags": [tag.name for tag in dataset.tags],
        "org": f"{organization.title} {organization.name}" if organization else "",
        "codes": [c for c in (dataset.resource_code, dataset.category, dataset.name) if c],
    })


def index_dataset(session: Session, dataset: Dataset) -> None:
    """Write (or rewrite) one dataset's entry; deleted datasets are removed instead."""
    if dataset.state == "deleted":
        remove_dataset(session, dataset.id)
        return
    write_entries(session, [(dataset.id, document_of(dataset))])


def write_entries(session: Session, entries: list[tuple[str, dict[str, str]]]) -> None:
    """Write many index entries at once (used by the rebuild and by single updates)."""
    if not entries:
        return
    cache.advance(session, [i for i, _d in entries])  # what word searches read (FTS5 takes no triggers)
    rows = [{"id": i, "title": d["title"], "body": d["body"]} for i, d in entries]
    if _dialect(session) == "postgresql":
        for row in rows:
            row["vector"] = _tsvector_literal(row["title"], row["body"])
        session.execute(sa.text("""
            INSERT INTO dataset_search (dataset_id, title_tokens, body_tokens, document)
            VALUES (:id, :title, :body, CAST(:vector AS tsvector))
            ON CONFLICT (dataset_id) DO UPDATE SET
                title_tokens = excluded.title_tokens, body_tokens = excluded.body_tokens,
                document = excluded.document"""), rows)
    else:
        # dataset_id is an UNINDEXED FTS5 column: every DELETE by it reads the whole table. One
        # DELETE per batch (not per row) keeps a bulk write or a rebuild linear instead of quadratic.
        delete = sa.text("DELETE FROM dataset_search WHERE dataset_id IN :ids").bindparams(
            sa.bindparam("ids", expanding=True))
        for start in range(0, len(rows), 500):
            session.execute(delete, {"ids": [r["id"] for r in rows[start:start + 500]]})
        session.execute(sa.text("INSERT INTO dataset_search (dataset_id, title_tokens, body_tokens) "
                                "VALUES (:id, :title, :body)"), rows)


def _tsvector_literal(title: str, body: str) -> str:
    """A tsvector literal with positions and weights (A: title, B: body).

    PostgreSQL keeps weights on positions only, so the lexemes need positions for ts_rank to weigh
    a title match above a body match. Tokens are plain word characters (see ``text``), so quoting
    them is safe; anything else is dropped.
    """
    parts, position = [], 0
    for tokens, weight in ((title.split(), "A"), (body.split(), "B")):
        for token in tokens:
            if SAFE_TERM.match(token):
                position = min(position + 1, 16383)
                parts.append(f"'{token}':{position}{weight}")
    return " ".join(parts)


def remove_dataset(session: Session, dataset_id: str) -> None:
    """Drop a dataset from the index."""
    cache.advance(session, [dataset_id])
    session.execute(sa.text("DELETE FROM dataset_search WHERE dataset_id = :id"), {"id": dataset_id})


def safe_terms(terms: list[str]) -> list[str]:
    """The terms made only of word characters (all the analysis yields; anything else is dropped)."""
    return [t for t in terms if SAFE_TERM.match(t)]


#: The index table as SQLAlchemy sees it (created by migration 0002, FTS5 or tsvector).
_INDEX = sa.table("dataset_search", sa.column("dataset_id", sa.String), sa.column("title_tokens"),
                  sa.column("body_tokens"), sa.column("document", TSVECTOR))
_COLUMNS = {"title": ("title_tokens", "A"), "body": ("body_tokens", "B")}


def match_expression(dialect: str, terms: list[str], *, column: str | None = None, prefix: bool = False,
                     any_term: bool = False) -> str:
    """The FTS5 MATCH or tsquery text requiring every term (or any, with ``any_term``).

    ``column`` (``title`` or ``body``) restricts the match to one column (FTS5 column filter,
    tsquery weight); ``prefix`` makes the last term a prefix. Only word-character tokens go in.
    """
    terms = safe_terms(terms)
    if dialect == "postgresql":
        weight = _COLUMNS[column][1] if column else ""
        parts = [f"'{t}':{'*' if prefix and i == len(terms) - 1 else ''}{weight}".rstrip(":")
                 for i, t in enumerate(terms)]
        return (" | " if any_term else " & ").join(parts)
    parts = [f'"{t}"' + ("*" if prefix and i == len(terms) - 1 else "") for i, t in enumerate(terms)]
    expression = (" OR " if any_term else " ").join(parts)
    return f"{_COLUMNS[column][0]} : ({expression})" if column else expression


def matching_ids(session: Session, terms: list[str], *, column: str | None = None,
                 prefix: bool = False) -> sa.Select:
    """``SELECT dataset_id`` of the datasets whose index holds every term (in ``column`` if given)."""
    expression = sa.bindparam(None, match_expression(_dialect(session), terms, column=column, prefix=prefix),
                              type_=sa.String)
    if _dialect(session) == "postgresql":
        where = _INDEX.c.document.op("@@")(sa.cast(expression, TSQUERY))
    else:
        where = sa.literal_column("dataset_search").op("MATCH")(expression)
    return sa.select(_INDEX.c.dataset_id).where(where)


def matches(session: Session, terms: list[str], *, score_terms: list[str] | None = None,
            any_term: bool = False) -> sa.Subquery:
    """A subquery ``(dataset_id, score)`` of the datasets containing every term; higher scores first.

    The score is the number of ``score_terms`` (default: the terms) found in the title, so a title
    match ranks above a match in the abstract, tags, department or codes only; the caller breaks
    ties by modification time, most recent first. Both engines compute it the same way from the
    stored title tokens, so a query ranks alike on SQLite and PostgreSQL (FTS5's bm25 and ts_rank
    each weigh length, frequency and term distance differently, and disagreed on the order of
    equally good title matches). With ``any_term`` a dataset needs only one of the terms.
    """
    terms = safe_terms(terms)
    params = {f"t{i}": f" {t} " for i, t in enumerate(safe_terms(score_terms or terms))}
    padded = "' ' || title_tokens || ' '"
    find = "strpos({padded}, :{name})" if _dialect(session) == "postgresql" else "instr({padded}, :{name})"
    score = " + ".join(f"(CASE WHEN {find.format(padded=padded, name=n)} > 0 THEN 1 ELSE 0 END)"
                       for n in params) or "0"
    query = match_expression(_dialect(session), terms, any_term=any_term)
    if _dialect(session) == "postgresql":
        stmt = sa.text(f"""
            SELECT dataset_id, {score} AS score
            FROM dataset_search WHERE document @@ CAST(:query AS tsquery)""")
    else:
        stmt = sa.text(f"""
            SELECT dataset_id, {score} AS score
            FROM dataset_search WHERE dataset_search MATCH :query""")
    stmt = stmt.bindparams(query=query, **params)
    return stmt.columns(dataset_id=sa.String, score=sa.Float).subquery("matches")


def rebuild(session: Session, *, batch_size: int = 500,
            progress: Callable[[int], None] | None = None) -> int:
    """Re-index every dataset that is not deleted; returns how many were indexed."""
    session.execute(sa.text("DELETE FROM dataset_search"))
    cache.advance(session)  # every entry: a change of any search
    ids: Iterable[str] = session.scalars(
        sa.select(Dataset.id).where(Dataset.state != "deleted").order_by(Dataset.id)).all()
    ids = list(ids)
    done = 0
    for start in range(0, len(ids), batch_size):
        chunk = ids[start:start + batch_size]
        datasets = session.scalars(sa.select(Dataset).where(Dataset.id.in_(chunk)).options(
            selectinload(Dataset.tags), selectinload(Dataset.organization))).all()
        write_entries(session, [(d.id, document_of(d)) for d in datasets])
        done += len(chunk)
        if progress:
            progress(len(chunk))
    return done
