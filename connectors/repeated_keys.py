"""The read ahead's record of repeated keys: which keys of one read occur more than once, and where last.

Holding every key of a file in a dict (``key → last position``; about 125 MB for 1,000,000 keys) made a
sync's memory grow with the file. Here each key becomes its 16-byte blake2b digest and its position, which
are spilled to one anonymous temporary file, partitioned by the digest's first byte (gone with the file
descriptor, so a killed run leaves nothing behind). When the read ends, one partition at a time is read
back and only the digests that occur more than once are kept, with their last position. The run then holds
the partition buffers while reading (at most ``PARTITIONS × CHUNK`` bytes), one partition while finding, and
one entry per repeated key; the file takes 24 bytes a key (an export row is a few hundred).

Two keys are one key when their 16-byte digests are equal, as content and source digests already are
elsewhere (``catalog/datastore/hashing.py``).
"""
from __future__ import annotations

import hashlib
import struct
import tempfile

__all__ = ["RepeatedKeys"]

#: partitions of the spilled digests (by their first byte): one is read back at a time
PARTITIONS = 256
#: bytes a partition buffers before they are written to the file
CHUNK = 16 * 1024
_ENTRY = struct.Struct("<16sQ")  # a key's digest and its position in the read


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class RepeatedKeys:
    """Keys seen in a read (:meth:`add`, in the order of the read), then (:meth:`finish`) the last
    position of each key that occurred more than once (:meth:`get`)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="catalog-sync-keys-")
        self._buffers = [bytearray() for _ in range(PARTITIONS)]
        self._chunks: list[list[tuple[int, int]]] = [[] for _ in range(PARTITIONS)]  # (offset, length)
        self._end = 0
        self._last: dict[bytes, int] = {}
        self.keyed = 0  # rows whose key was told
        self.distinct = 0  # distinct keys among them (known after finish)

    def add(self, key: str, position: int) -> None:
        """Note that ``key`` occurs at ``position`` (positions increase with each call)."""
        digest = _digest(key)
        buffer = self._buffers[digest[0]]
        buffer += _ENTRY.pack(digest, position)
        self.keyed += 1
        if len(buffer) >= CHUNK:
            self._spill(digest[0])

    def _spill(self, partition: int) -> None:
        buffer = self._buffers[partition]
        self._file.write(buffer)
        self._chunks[partition].append((self._end, len(buffer)))
        self._end += len(buffer)
        buffer.clear()

    def finish(self) -> None:
        """Find the repeated keys and their last positions; the spilled digests are then dropped."""
        self._file.flush()
        distinct = 0
        for partition in range(PARTITIONS):
            data = bytearray()
            for offset, length in self._chunks[partition]:
                self._file.seek(offset)
                data += self._file.read(length)
            data += self._buffers[partition]
            self._buffers[partition] = bytearray()
            last: dict[bytes, int] = {}
            repeated: set[bytes] = set()
            for digest, position in _ENTRY.iter_unpack(data):
                if digest in last:
                    repeated.add(digest)
                last[digest] = position  # chunks were written in the order of the read
            distinct += len(last)
            self._last.update((digest, last[digest]) for digest in repeated)
        self.distinct = distinct
        self.close()

    def get(self, key: str, default: int) -> int:
        """The last position of ``key`` in the read when it occurred more than once, else ``default``."""
        if not self._last:
            return default
        return self._last.get(_digest(key), default)

    def __len__(self) -> int:
        """How many keys occurred more than once."""
        return len(self._last)

    def close(self) -> None:
        """Drop the spilled digests (the repeated keys found stay)."""
        if not self._file.closed:
            self._file.close()
        self._chunks = [[] for _ in range(PARTITIONS)]
