"""The evidence log's Merkle tree answered from the database: stored nodes, and leaves only near a proof.

A checkpoint stores every perfect subtree of ``2**STORED_HEIGHT`` leaves and up that it completes
(``merkle_node``). :class:`StoredTree` answers roots and proofs from those rows and, below that
height, from the 64 leaf hashes of the block a proof passes through. A pack of a thousand events
of a million-event log then reads a few tens of thousands of small rows instead of every leaf.

Nothing here is trusted: a node missing from the table (or not a hash) is computed from its children
(down to the leaves), and a proof built from a wrong node does not lead to the signed root: the
exporter checks every proof it writes against the signed roots and, when one fails, builds the tree
from every leaf instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.errors import EvidenceError
from bot.evidence.merkle import HASH_SIZE, STORED_HEIGHT, MerkleTree, TreeProofs, _split, node_hash
from bot.store.tables import EvidenceEvent, MerkleNode

event_t = EvidenceEvent.__table__  # type: ignore[attr-defined]
node_t = MerkleNode.__table__  # type: ignore[attr-defined]

_BLOCK = 1 << STORED_HEIGHT


def leaf_of(row: Any) -> bytes:
    """An event row's leaf hash (recomputed from the body when an old row has none)."""
    if row.leaf_hash:
        return bytes.fromhex(row.leaf_hash)
    return hashlib.sha256(b"\x00" + row.body.encode("utf-8")).digest()


def _leaf_select() -> sa.Select[Any]:
    """seq and leaf hash of events, with the body only where an old row has no leaf hash."""
    return sa.select(
        event_t.c.seq,
        event_t.c.leaf_hash,
        sa.case((event_t.c.leaf_hash.is_(None), event_t.c.body), else_=None).label("body"),
    )


def whole_tree(connection: Connection, size: int) -> MerkleTree:
    """The tree of the first ``size`` events from every leaf, in memory (when stored nodes cannot be used)."""
    leaves = bytearray()
    statement = (
        _leaf_select()
        .where(event_t.c.seq <= size)
        .order_by(event_t.c.seq)
        .execution_options(stream_results=True, yield_per=20_000)
    )
    expected = 1
    for row in connection.execute(statement):
        if row.seq != expected:
            raise EvidenceError(f"evidence event {expected} is missing: run `dunbot evidence verify --db`")
        leaves.extend(leaf_of(row))
        expected += 1
    if expected - 1 != size:
        raise EvidenceError(f"the log has {expected - 1} events but the checkpoint covers {size}")
    return MerkleTree(leaves)


def store_nodes(connection: Connection, made: list[tuple[int, int, bytes]]) -> None:
    """Insert (height, ordinal, hash) nodes; ones already there are left as they are."""
    if not made:
        return
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    rows = [{"height": h, "ordinal": o, "hash": value.hex()} for h, o, value in made]
    for start in range(0, len(rows), 10_000):
        connection.execute(insert(node_t).on_conflict_do_nothing(), rows[start : start + 10_000])


def stored_nodes(connection: Connection) -> Any:
    """Every stored node as rows of (height, ordinal, hash)."""
    return connection.execute(sa.select(node_t.c.height, node_t.c.ordinal, node_t.c.hash))


class StoredTree(TreeProofs):
    """The tree of the log's first ``size`` events, from ``merkle_node`` and the leaves near a proof."""

    def __init__(self, connection: Connection, size: int) -> None:
        count, highest = connection.execute(
            sa.select(sa.func.count(), sa.func.max(event_t.c.seq)).where(event_t.c.seq <= size)
        ).one()
        if count != size or (size and highest != size):
            raise EvidenceError(
                f"the log has {count} of the {size} events the checkpoint covers: "
                "run `dunbot evidence verify --db`"
            )
        self.size = size
        self._connection = connection
        self._nodes: dict[tuple[int, int], bytes] = {}
        for height, ordinal, value in stored_nodes(connection):
            if height < STORED_HEIGHT or ordinal < 0 or (ordinal + 1) << height > size:
                continue  # not a node this tree can use (`verify --db` names a wrong one)
            try:
                node = bytes.fromhex(value)
            except (ValueError, TypeError):
                continue
            if len(node) == HASH_SIZE:
                self._nodes[(height, ordinal)] = node
        self._blocks: dict[int, MerkleTree] = {}

    def leaf(self, index: int) -> bytes:
        """The stored leaf hash of event ``index + 1``."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} is outside a tree of {self.size}")
        return self._block(index >> STORED_HEIGHT).leaf(index % _BLOCK)

    def subtree(self, start: int, end: int, size: int | None = None) -> bytes:
        """MTH(D[start:end])."""
        width = end - start
        if width <= 0 or end > self.size:
            raise ValueError(f"no subtree [{start}, {end}) in a tree of {self.size}")
        height = width.bit_length() - 1
        if width == 1 << height and start % width == 0:
            return self._perfect(height, start >> height)
        k = _split(width)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def _perfect(self, height: int, ordinal: int) -> bytes:
        if height >= STORED_HEIGHT:
            node = self._nodes.get((height, ordinal))
            if node is None:
                left = self._perfect(height - 1, 2 * ordinal)
                node = node_hash(left, self._perfect(height - 1, 2 * ordinal + 1))
                self._nodes[(height, ordinal)] = node
            return node
        first = ordinal << height
        block = self._block(first >> STORED_HEIGHT)
        offset = (first % _BLOCK >> height) * HASH_SIZE
        return block.levels[height][offset : offset + HASH_SIZE]

    def prefetch(self, indices: Iterable[int]) -> None:
        """Read the leaf blocks that proofs of these leaves need, a few queries for all of them
        (one per block would be a round trip each on PostgreSQL)."""
        wanted = sorted({i >> STORED_HEIGHT for i in indices} | {(self.size - 1) >> STORED_HEIGHT})
        wanted = [n for n in wanted if n not in self._blocks and n * _BLOCK < self.size]
        ranges: list[list[int]] = []
        for number in wanted:
            if ranges and ranges[-1][1] == number - 1:
                ranges[-1][1] = number
            else:
                ranges.append([number, number])
        for start in range(0, len(ranges), 200):
            spans = [
                (a * _BLOCK + 1, min((b + 1) * _BLOCK, self.size)) for a, b in ranges[start : start + 200]
            ]
            rows = self._leaf_rows(sa.or_(*(event_t.c.seq.between(a, b) for a, b in spans)))
            for first, last in spans:
                for number in range((first - 1) >> STORED_HEIGHT, ((last - 1) >> STORED_HEIGHT) + 1):
                    low, high = number * _BLOCK + 1, min((number + 1) * _BLOCK, self.size)
                    self._blocks[number] = self._tree_of(low, high, rows.get_range(low, high))

    def _block(self, number: int) -> MerkleTree:
        block = self._blocks.get(number)
        if block is None:
            first, last = number * _BLOCK + 1, min((number + 1) * _BLOCK, self.size)
            rows = self._leaf_rows(event_t.c.seq.between(first, last))
            block = self._blocks[number] = self._tree_of(first, last, rows.get_range(first, last))
        return block

    def _leaf_rows(self, where: Any) -> _Rows:
        statement = _leaf_select().where(where)
        return _Rows({row.seq: row for row in self._connection.execute(statement)})

    @staticmethod
    def _tree_of(first: int, last: int, rows: list[Any]) -> MerkleTree:
        if len(rows) != last - first + 1:
            raise EvidenceError(
                f"evidence events {first}–{last} are not all there: run `dunbot evidence verify --db`"
            )
        return MerkleTree([leaf_of(row) for row in rows])


class _Rows:
    """Rows by seq."""

    def __init__(self, by_seq: dict[int, Any]) -> None:
        self.by_seq = by_seq

    def get_range(self, first: int, last: int) -> list[Any]:
        """The rows first..last that are there, in order."""
        return [self.by_seq[seq] for seq in range(first, last + 1) if seq in self.by_seq]
