"""The access log: every read of records, in a chain keyed by HMAC and checkpointed outside the database.

Each entry carries a gap-free sequence number and the HMAC-SHA256, under the audit key, of its
content and of the entry before it. The key is never stored in the database (``CATALOG_AUDIT_KEY``,
else derived from ``SECRET_KEY``), so whoever can write the database can delete or edit entries but
cannot forge them or chain them again. Deleting the newest entries leaves a consistent chain behind;
that is caught by the checkpoint, a file outside the database holding the last sequence number and
HMAC, signed with the key, moved forward after every commit that appended.

Appending takes the lock on the single ``access_log_head`` row (an UPDATE), so concurrent readers
append one after another and the chain never forks.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import hmac
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..auth import rules
from ..auth.models import User
from ..auth.passwords import derived_key
from ..datasets.models import Dataset
from ..db import HOLD_BACK, utcnow
from ..errors import CatalogError, NotAuthorized
from .models import AccessLogEntry, AccessLogHead

GENESIS = "0" * 64
CHECKPOINT_FORMAT = "catalog-audit-checkpoint/1"
_PENDING = "access_log_checkpoint"  # session.info: what this transaction appended, for the checkpoint
logger = logging.getLogger(__name__)


class AuditChainBroken(CatalogError):
    """The access log or its checkpoint does not verify, so the asked operation is refused."""


# --- the key ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditKey:
    """The HMAC key of the chain and its public id (stored on each entry to tell keys apart)."""

    secret: bytes

    @functools.cached_property
    def key_id(self) -> str:
        """16 hex digits naming the key without revealing it."""
        return hmac.new(self.secret, b"catalog.audit.key-id", hashlib.sha256).hexdigest()[:16]


@functools.cache
def audit_key(value: str) -> AuditKey:
    """The chain's key for a configured value: ``CATALOG_AUDIT_KEY``, or ``SECRET_KEY`` when that is unset
    (kept per value: every logged read asks for it, and its id is an HMAC)."""
    return AuditKey(derived_key(value, "audit"))


def configured_key(config: Mapping[str, Any]) -> AuditKey:
    """The app's audit key: ``AUDIT_KEY``, else derived from ``SECRET_KEY``."""
    return audit_key(config.get("AUDIT_KEY") or config["SECRET_KEY"])


def _settings() -> tuple[AuditKey, Path | None]:
    if not has_app_context():
        raise RuntimeError("the access log needs the app's audit key: call it inside an app context")
    config = current_app.config
    path = config.get("AUDIT_CHECKPOINT_PATH")
    return configured_key(config), Path(path) if path else None


# --- entries ------------------------------------------------------------------------------------

#: the columns an entry's HMAC covers besides its place in the chain (``seq``, ``key_id``)
_CONTENT = ("timestamp", "action", "user_id", "user_name", "departments", "package_id", "owner_org",
            "resource_id", "params", "record_count", "prev_hash")


def _content_of(values: Mapping[str, Any]) -> dict[str, Any]:
    content = {name: values[name] for name in _CONTENT}
    content["timestamp"] = values["timestamp"].isoformat()
    return content


def _content(entry: AccessLogEntry) -> dict[str, Any]:
    return _content_of({name: getattr(entry, name) for name in _CONTENT})


def _canonical(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


def legacy_hash(entry: AccessLogEntry) -> str:
    """The plain SHA-256 the chain used before migration 0010 (anyone can recompute it)."""
    return hashlib.sha256(_canonical(_content(entry))).hexdigest()


def _mac(content: dict[str, Any], seq: int | None, key_id: str | None, key: AuditKey) -> str:
    content = dict(content, seq=seq, key_id=key_id)
    return hmac.new(key.secret, b"catalog.audit.entry:" + _canonical(content), hashlib.sha256).hexdigest()


def entry_mac(entry: AccessLogEntry, key: AuditKey) -> str:
    """The HMAC-SHA256 of an entry's content, its place in the chain and the previous entry's HMAC."""
    return _mac(_content(entry), entry.seq, entry.key_id, key)


@functools.cache
def _append_statements(postgresql: bool) -> tuple[sa.Update, sa.Update | None, sa.Insert]:
    """The statements of an append, built once (Core, values as bound parameters ``entry_<column>``):
    building them on every logged read was a fifth of a key lookup's CPU (docs/PERFORMANCE.md, sixth pass).
    ``(advance the head, move the head's hash (SQLite), insert the entry)``; on PostgreSQL the insert
    carries the head's move in a ``WITH``."""
    head, log = AccessLogHead.__table__, AccessLogEntry.__table__
    advance = (sa.update(head).where(head.c.id == 1).values(seq=head.c.seq + 1)
               .returning(head.c.seq, head.c.last_hash))
    move = sa.update(head).where(head.c.id == 1).values(last_hash=sa.bindparam("entry_hash", type_=log.c.hash.type))
    insert = sa.insert(log).values({column.key: sa.bindparam(f"entry_{column.key}", type_=column.type)
                                    for column in log.columns if column.key != "id"})
    if postgresql:
        return advance, None, insert.add_cte(move.cte("head")).execution_options(**{HOLD_BACK: True})
    return advance, move, insert


def append_entry(session: Session, actor: User | None, *, action: str, dataset: Dataset,
                 resource_id: str | None, departments: list[str], params: dict[str, Any],
                 record_count: int) -> None:
    """Append one read to the chain (committed with the request; the checkpoint follows the commit)."""
    key, checkpoint_path = _settings()
    advance, move, insert = _append_statements(session.get_bind().dialect.name == "postgresql")
    head = session.execute(advance).first()
    seq, previous = head if head is not None else _restore_head(session)
    values = {"timestamp": utcnow().replace(microsecond=0), "action": action,
              "user_id": actor.id if actor else None, "user_name": actor.name if actor else None,
              "departments": sorted(departments), "package_id": dataset.id, "owner_org": dataset.owner_org,
              "resource_id": resource_id, "params": params, "record_count": record_count,
              "prev_hash": previous, "seq": seq, "key_id": key.key_id}
    values["hash"] = _mac(_content_of(values), seq, key.key_id, key)
    _store(session, move, insert, values)
    if checkpoint_path is not None:
        pending = session.info.setdefault(_PENDING, {"path": checkpoint_path, "key": key,
                                                     "known": {seq - 1: previous}})
        pending["known"][seq] = values["hash"]


def _store(session: Session, move: sa.Update | None, insert: sa.Insert, values: dict[str, Any]) -> None:
    """Insert the entry and move the head's hash to it: one statement on PostgreSQL (every logged read
    pays each round trip), held back to go with the next statement or the ``COMMIT`` (``db.HOLD_BACK``:
    nothing reads its answer), so a logged read's last round trip carries both; the head's update then
    the insert on SQLite (no UPDATE inside a WITH)."""
    parameters = {f"entry_{name}": value for name, value in values.items()}
    if move is not None:
        session.execute(move, parameters)
    session.execute(insert, parameters)


def _restore_head(session: Session) -> tuple[int, str]:
    # The head row is only ever missing when someone deleted it: continue after the last entry
    # (a chain restarted at #1 would collide with the entries still there).
    logger.warning("access_log_head was missing; restored from the newest entry")
    last = session.execute(sa.select(AccessLogEntry.seq, AccessLogEntry.hash)
                           .where(AccessLogEntry.seq.is_not(None))
                           .order_by(AccessLogEntry.seq.desc()).limit(1)).first()
    seq, previous = (last[0] + 1, last[1]) if last else (1, GENESIS)
    session.add(AccessLogHead(id=1, seq=seq, last_hash=previous))
    session.flush()
    return seq, previous


# --- the checkpoint outside the database --------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    """The newest entry known to have been committed: its sequence number and HMAC."""

    seq: int
    mac: str
    key_id: str
    written_at: str


def _checkpoint_signature(key: AuditKey, payload: dict[str, Any]) -> str:
    return hmac.new(key.secret, b"catalog.audit.checkpoint:" + _canonical(payload), hashlib.sha256).hexdigest()


def read_checkpoint(path: Path, keys: Mapping[str, AuditKey]) -> Checkpoint | None:
    """The checkpoint at ``path`` (None when there is none), checked against the key it names."""
    try:
        data = json.loads(Path(path).read_bytes())
        payload = {name: data[name] for name in ("format", "seq", "mac", "key_id", "written_at")}
        signature = str(data["signature"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise AuditChainBroken(f"the checkpoint {path} cannot be read ({error})") from error
    key = keys.get(payload["key_id"])
    if key is None:
        raise AuditChainBroken(f"the checkpoint {path} is signed with audit key {payload['key_id']}, "
                               f"not the configured key {', '.join(keys)} (see `catalog audit rekey`)")
    if not hmac.compare_digest(signature, _checkpoint_signature(key, payload)) or payload["format"] != CHECKPOINT_FORMAT:
        raise AuditChainBroken(f"the checkpoint {path} does not carry a valid signature (forged or edited)")
    return Checkpoint(seq=int(payload["seq"]), mac=str(payload["mac"]), key_id=payload["key_id"],
                      written_at=str(payload["written_at"]))


def _read_checkpoint_locked(path: Path, keys: Mapping[str, AuditKey]) -> Checkpoint | None:
    # Under the writers' lock (shared): a checkpoint moved after a logged read is written in place.
    with _checkpoint_lock(path, shared=True):
        return read_checkpoint(path, keys)


#: bytes of a checkpoint written in place after a logged read: the signed document (about 300 bytes)
#: padded with spaces, which JSON ignores, so every write covers the whole of the one before
CHECKPOINT_SIZE = 512


def _write_checkpoint(path: Path, key: AuditKey, seq: int, mac: str, *, durable: bool) -> Checkpoint:
    payload = {"format": CHECKPOINT_FORMAT, "seq": seq, "mac": mac, "key_id": key.key_id,
               "written_at": utcnow().replace(microsecond=0).isoformat()}
    document = dict(payload, signature=_checkpoint_signature(key, payload))
    path.parent.mkdir(parents=True, exist_ok=True)
    written = Checkpoint(seq=seq, mac=mac, key_id=key.key_id, written_at=payload["written_at"])
    if not durable:
        # After each logged read: one write over the file in place, under the writers' lock (readers
        # take it too, so none sees half of one). A new file and a rename each time cost the directory's
        # journal: 0.3 ms at the median, 12-16 ms at the 95th percentile on the loaded 2-core machine,
        # against 0.01 ms (docs/PERFORMANCE.md, "DataStore reads", third pass).
        data = json.dumps(document).encode().ljust(CHECKPOINT_SIZE)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.pwrite(fd, data, 0)
            if os.fstat(fd).st_size != len(data):  # a file the commands wrote (unpadded), or edited by hand
                os.ftruncate(fd, len(data))
        finally:
            os.close(fd)
        return written
    # The commands: a new file, fsynced, renamed over the old; a reader sees the old file or the new one.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())  # 2-6 ms: the commands pay it, not each logged read (bench/audit_log.py)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return written


@contextlib.contextmanager
def _checkpoint_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    # One writer at a time across processes (gunicorn workers, the CLI): read, compare, write; readers
    # (``shared``) wait for a write to end.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _advance_checkpoint(path: Path, key: AuditKey, known: dict[int, str], lookup: Callable[[int], str | None],
                        *, start: bool = False, durable: bool = True) -> Checkpoint | None:
    """Move the checkpoint to the newest of ``known`` (seq → HMAC of committed entries), but only along
    the chain it already records: a log cut back and grown again never gets a new checkpoint."""
    newest = max(known)
    with _checkpoint_lock(path):
        if start:  # the operator vouches for the log as it is now
            return _write_checkpoint(path, key, newest, known[newest], durable=durable)
        current = read_checkpoint(path, {key.key_id: key})
        if current is None:
            if min(known) != 0:
                logger.warning("no access log checkpoint at %s: run `catalog audit checkpoint`", path)
                return None
        elif current.seq >= newest:
            return current
        else:
            mac = known[current.seq] if current.seq in known else lookup(current.seq)
            if mac != current.mac:
                raise AuditChainBroken(f"entry #{current.seq} is not the entry checkpointed as #{current.seq}: "
                                       "the log was cut back and appended again; the checkpoint stays")
        return _write_checkpoint(path, key, newest, known[newest], durable=durable)


def _lookup(bind: sa.Engine | sa.Connection) -> Callable[[int], str | None]:
    # built when asked (rarely: the checkpoint is usually the entry before this transaction's first)
    def find(seq: int) -> str | None:
        query = sa.select(AccessLogEntry.hash).where(AccessLogEntry.seq == sa.bindparam("seq"))
        if isinstance(bind, sa.Engine):
            with bind.connect() as conn:
                return conn.scalar(query, {"seq": seq})
        return bind.scalar(query, {"seq": seq})

    return find


@event.listens_for(Session, "after_commit")
def _checkpoint_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    try:
        _advance_checkpoint(pending["path"], pending["key"], pending["known"], _lookup(session.get_bind()),
                            durable=False)
    except (AuditChainBroken, OSError, sa.exc.SQLAlchemyError) as error:
        # The read itself is committed and answered; the stale checkpoint makes `verify` fail.
        logger.error("access log checkpoint not moved: %s", getattr(error, "message", error))


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    # What was appended may be gone: let a later commit catch the checkpoint up instead.
    session.info.pop(_PENDING, None)


# --- verification -------------------------------------------------------------------------------

@dataclass
class _Walk:
    ok: bool
    checked: int
    message: str = ""
    last_seq: int = 0
    last_mac: str = GENESIS
    legacy: int = 0


def _entries(session: Session, after: int, batch: int) -> Iterator[AccessLogEntry]:
    # In batches, flushed (a re-keying changes them) and let go of, so a long log fits in memory.
    while True:
        chunk = list(session.scalars(sa.select(AccessLogEntry).where(AccessLogEntry.seq > after)
                                     .order_by(AccessLogEntry.seq).limit(batch)))
        if not chunk:
            return
        after = chunk[-1].seq
        yield from chunk
        session.flush()
        session.expunge_all()


def _walk(session: Session, keys: Mapping[str, AuditKey], checkpoint: Checkpoint | None, *,
          legacy: bool = False, batch: int) -> _Walk:
    """Check the chain entry by entry; the first broken entry ends the walk."""
    walk = _Walk(True, 0)

    def broken(message: str) -> _Walk:
        walk.ok, walk.message = False, message
        return walk

    unnumbered = session.scalar(sa.select(AccessLogEntry.id).where(AccessLogEntry.seq.is_(None))
                                .order_by(AccessLogEntry.id).limit(1))
    if unnumbered is not None:
        return broken(f"entry {unnumbered} has no place in the chain (inserted)")
    while True:
        for entry in _entries(session, walk.last_seq, batch):
            seq, name = walk.last_seq + 1, f"entry {entry.id} (#{entry.seq})"
            if entry.seq != seq:
                missing = f"entry #{seq} is" if entry.seq == seq + 1 else f"entries #{seq} to #{entry.seq - 1} are"
                return broken(f"{missing} missing before {name} (deleted)")
            if entry.prev_hash != walk.last_mac:
                return broken(f"{name} does not follow the entry before it (an entry was deleted or inserted)")
            if entry.key_id is None:
                if not legacy or walk.legacy != walk.checked:
                    return broken(f"{name} is chained by plain SHA-256, as before the keyed chain "
                                  "(run `catalog audit rekey` once after upgrading; anywhere else it was forged)")
                if entry.hash != legacy_hash(entry):
                    return broken(f"{name}: its content does not match its hash (edited)")
                walk.legacy += 1
            elif entry.key_id not in keys:
                return broken(f"{name} is signed with audit key {entry.key_id}, not the configured key "
                              f"{', '.join(keys)} (forged, or the key changed: see `catalog audit rekey`)")
            elif not hmac.compare_digest(entry.hash, entry_mac(entry, keys[entry.key_id])):
                return broken(f"{name}: its content does not match its HMAC (edited, or written without "
                              "the audit key)")
            if checkpoint is not None and seq == checkpoint.seq and entry.hash != checkpoint.mac:
                return broken(f"{name} is not the entry checkpointed as #{seq}: the log was rewritten up to "
                              "there (cut back and appended again)")
            walk.last_seq, walk.last_mac, walk.checked = seq, entry.hash, walk.checked + 1
        head = session.execute(sa.select(AccessLogHead.seq, AccessLogHead.last_hash)
                               .where(AccessLogHead.id == 1)).first()
        if head is not None and head.seq > walk.last_seq and session.scalar(
                sa.select(sa.func.count()).where(AccessLogEntry.seq > walk.last_seq)):
            continue  # appended while we walked: check those too
        break
    if head is None and walk.checked:
        return broken("the chain's head row is missing (deleted)")
    if head is not None and head.seq > walk.last_seq:
        return broken(f"entries after #{walk.last_seq} are missing: the head records #{head.seq} "
                      "(the newest entries were deleted)")
    if head is not None and (head.seq, head.last_hash) != (walk.last_seq, walk.last_mac):
        return broken(f"the chain's head does not match its newest entry #{walk.last_seq} (edited)")
    if checkpoint is not None and checkpoint.seq > walk.last_seq:
        return broken(f"entries after #{walk.last_seq} are missing: checkpoint #{checkpoint.seq} of "
                      f"{checkpoint.written_at} records them (the newest entries were deleted)")
    walk.message = f"{walk.checked} entries, chain intact"
    return walk


def _read_only(session: Session) -> None:
    # A snapshot that takes no write lock on SQLite (catalog/db.py), so reads go on being logged
    # while a long log is walked; a session already in a transaction keeps it.
    if not session.in_transaction():
        session.connection(execution_options={"read_only_snapshot": True})


def _verify(session: Session, key: AuditKey, path: Path | None, batch: int) -> _Walk:
    # The checkpoint is read first: it only ever names entries committed before, which the walk sees.
    try:
        checkpoint = _read_checkpoint_locked(path, {key.key_id: key}) if path is not None else None
    except AuditChainBroken as error:
        return _Walk(False, 0, error.message)
    _read_only(session)
    walk = _walk(session, {key.key_id: key}, checkpoint, batch=batch)
    if not walk.ok:
        return walk
    if checkpoint is None and walk.checked:
        return _Walk(False, walk.checked, f"no checkpoint at {path}: deleted newest entries cannot be ruled "
                                          "out; run `catalog audit checkpoint` to start one")
    if checkpoint is not None:
        walk.message += f", checkpoint #{checkpoint.seq} present"
    return walk


def verify_chain(session: Session, *, advance: bool = False, batch: int = 5000) -> tuple[bool, int, str]:
    """Walk the whole log against the key and the checkpoint; ``(ok, entries checked, message)`` naming
    the first broken entry, or the entries missing after the checkpoint. ``advance``: when it verifies,
    move the checkpoint to the newest entry."""
    key, path = _settings()
    walk = _verify(session, key, path, batch)
    if walk.ok and advance and path is not None:
        _advance_checkpoint(path, key, {walk.last_seq: walk.last_mac}, _lookup(session.connection()))
    return walk.ok, walk.checked, walk.message


def checkpoint_log(session: Session, *, start: bool = False, batch: int = 5000) -> tuple[int, str]:
    """Verify the log, then move the checkpoint to its newest entry; ``start`` begins a new checkpoint
    from the log as it is (none yet, or after an incident was looked into). ``(entries, message)``."""
    key, path = _settings()
    if path is None:
        raise AuditChainBroken("AUDIT_CHECKPOINT_PATH is not set")
    if start:
        _read_only(session)
        walk = _walk(session, {key.key_id: key}, None, batch=batch)
    else:
        walk = _verify(session, key, path, batch)
        if not walk.ok and walk.message.startswith("no checkpoint at"):
            walk = _walk(session, {key.key_id: key}, None, batch=batch)
            start = True
    if not walk.ok:
        raise AuditChainBroken(f"access log tampered: {walk.message}")
    written = _advance_checkpoint(path, key, {walk.last_seq: walk.last_mac}, _lookup(session.connection()),
                                  start=start)
    return walk.checked, f"checkpoint at #{written.seq} ({path})"


def rekey_log(session: Session, *, old_keys: list[AuditKey], batch: int = 5000) -> tuple[int, str, tuple[int, str]]:
    """Check every entry under the scheme it was written with (plain SHA-256 before migration 0010, or
    an old key), then sign the whole chain with the configured key; ``(entries, message, newest)``. The
    caller commits, then writes the new checkpoint with :func:`write_rekeyed_checkpoint`."""
    key, path = _settings()
    keys = {k.key_id: k for k in [*old_keys, key]}
    # Hold the head for the whole re-keying: no read is logged under the old scheme meanwhile.
    session.execute(sa.update(AccessLogHead).where(AccessLogHead.id == 1).values(seq=AccessLogHead.seq)
                    .execution_options(synchronize_session=False))
    checkpoint = _read_checkpoint_locked(path, keys) if path is not None else None
    walk = _walk(session, keys, checkpoint, legacy=True, batch=batch)
    if not walk.ok:
        raise AuditChainBroken(f"access log tampered, not re-keyed: {walk.message}")
    previous, count = GENESIS, 0
    for entry in _entries(session, 0, batch):
        entry.prev_hash, entry.key_id = previous, key.key_id
        entry.hash = previous = entry_mac(entry, key)
        count += 1
    session.flush()
    session.execute(sa.update(AccessLogHead).where(AccessLogHead.id == 1).values(last_hash=previous)
                    .execution_options(synchronize_session=False))
    return count, (f"{count} entries signed with audit key {key.key_id}"
                   + (f" ({walk.legacy} were chained by plain SHA-256 only)" if walk.legacy else "")), \
        (walk.last_seq, previous)


def write_rekeyed_checkpoint(seq: int, mac: str) -> str:
    """After the re-keying committed: the new checkpoint, signed with the new key."""
    key, path = _settings()
    if path is None:
        return "no checkpoint path set"
    with _checkpoint_lock(path):
        written = _write_checkpoint(path, key, seq, mac, durable=True)
    return f"checkpoint #{written.seq} written to {path}"


# --- reading the log ----------------------------------------------------------------------------

def list_entries(session: Session, actor: User | None, *, owner_org: str | None, package_id: str | None,
                 offset: int, limit: int) -> list[AccessLogEntry]:
    """Entries about a providing department's datasets (its admins, sysadmins), newest first."""
    if not rules.is_sysadmin(actor):
        if not owner_org:
            raise NotAuthorized("Give organization_id: the providing department whose log you administer")
        rules.require(rules.role_in(session, actor, owner_org) == "admin",
                      "Only the providing department's admins and sysadmins read its access log")
    query = sa.select(AccessLogEntry)
    if owner_org:
        query = query.where(AccessLogEntry.owner_org == owner_org)
    if package_id:
        query = query.where(AccessLogEntry.package_id == package_id)
    return list(session.scalars(query.order_by(AccessLogEntry.id.desc()).offset(offset).limit(limit)))
