"""Merkle trees exactly as RFC 9162 §2.1: tree hashes, inclusion and consistency proofs, and their checks.

Leaves are ``SHA-256(0x00 ‖ leaf)``, interior nodes ``SHA-256(0x01 ‖ left ‖ right)``, and a tree of
``n`` leaves splits at the largest power of two below ``n`` (§2.1.1). :class:`MerkleTree` keeps every
level of the tree in memory (32 bytes a node, so a million events take about 64 MB) and answers
roots, audit paths (§2.1.3.1) and consistency proofs (§2.1.4.1) for the whole tree or any prefix of
it. :class:`CompactRange` folds leaves into the O(log n) perfect subtrees on the tree's right edge,
which is all a checkpoint needs to extend the tree later. The two verification algorithms
(§2.1.3.2, §2.1.4.2) need nothing but hashes: the evidence pack verifier uses them offline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

HASH_SIZE = 32
# Perfect subtrees of 2**STORED_HEIGHT leaves and up are kept in the merkle_node table (a cache,
# checked by `verify --db`), so that a proof costs a few reads, not the whole log.
STORED_HEIGHT = 6
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH of the empty tree


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 ‖ data)``: the hash of one leaf."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 ‖ left ‖ right)``: the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly below ``size`` (``size`` ≥ 2)."""
    return 1 << ((size - 1).bit_length() - 1)


class TreeProofs:
    """Roots, audit paths and consistency proofs from ``subtree``: whatever keeps the hashes.

    A subclass provides ``size`` and ``subtree(start, end)``; the proofs ask only for ranges that the
    RFC's recursion produces.
    """

    size: int

    def subtree(self, start: int, end: int, size: int | None = None) -> bytes:
        """MTH(D[start:end])."""
        raise NotImplementedError

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all of them)."""
        size = self.size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self.subtree(0, size, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, the sibling nearest the leaf first."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise IndexError(f"leaf {index} is outside a tree of {size}")
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                proof.append(self.subtree(start + k, end, size))
                end = start + k
            else:
                proof.append(self.subtree(start, start + k, size))
                start += k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:size]) of RFC 9162 §2.1.4.1."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= old_size <= size:
            raise ValueError(f"cannot prove {old_size} consistent with a smaller tree of {size}")
        if old_size in (0, size):
            return []
        proof: list[bytes] = []
        start, end, m, whole = 0, size, old_size, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self.subtree(start + k, end, size))
                end = start + k
            else:
                proof.append(self.subtree(start, start + k, size))
                start, m, whole = start + k, m - k, False
        if not whole:
            proof.append(self.subtree(start, end, size))
        proof.reverse()
        return proof

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is outside 0..{self.size}")


class MerkleTree(TreeProofs):
    """Every level of the tree over ``leaves`` (each a 32-byte leaf hash)."""

    def __init__(self, leaves: Iterable[bytes] | bytes | bytearray) -> None:
        base = bytes(leaves) if isinstance(leaves, bytes | bytearray) else b"".join(leaves)
        if len(base) % HASH_SIZE:
            raise ValueError("leaf hashes are 32 bytes each")
        self.size = len(base) // HASH_SIZE
        self.levels: list[bytes] = [base]
        current = base
        sha256 = hashlib.sha256
        while len(current) > HASH_SIZE:
            count = len(current) // HASH_SIZE
            parts = [
                sha256(b"\x01" + current[i : i + 2 * HASH_SIZE]).digest()
                for i in range(0, (count - count % 2) * HASH_SIZE, 2 * HASH_SIZE)
            ]
            if count % 2:
                parts.append(current[(count - 1) * HASH_SIZE :])  # promoted unchanged (RFC's split)
            current = b"".join(parts)
            self.levels.append(current)

    def leaf(self, index: int) -> bytes:
        """The hash of leaf ``index``."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} is outside a tree of {self.size}")
        return self.levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE]

    def subtree(self, start: int, end: int, size: int | None = None) -> bytes:
        """MTH(D[start:end]) of the tree of ``size`` leaves; ``start`` is aligned as the recursion has it."""
        width = end - start
        if width <= 0:
            raise ValueError("an empty range has no subtree hash")
        level = width.bit_length() - 1
        if width == 1 << level and start % width == 0:
            offset = (start >> level) * HASH_SIZE
            return self.levels[level][offset : offset + HASH_SIZE]
        if end == self.size and start % (1 << width.bit_length()) == 0:
            # The right edge of the whole tree is one (promoted) node of the stored levels.
            level = width.bit_length()
            offset = (start >> level) * HASH_SIZE
            return self.levels[level][offset : offset + HASH_SIZE]
        k = _split(width)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))


def root_from_inclusion_proof(
    index: int,
    size: int,
    leaf: bytes,
    proof: Sequence[bytes],
    trace: list[tuple[bytes, bytes, bytes]] | None = None,
) -> bytes | None:
    """The root an audit path leads to (RFC 9162 §2.1.3.2), or None when the path cannot be right.

    With ``trace``, each step is appended as (left, right, their node hash): the worked example of
    the pack's README.
    """
    if not 0 <= index < size or len(leaf) != HASH_SIZE:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != HASH_SIZE or sn == 0:
            return None
        left, right = (p, r) if fn & 1 or fn == sn else (r, p)
        if trace is not None:
            trace.append((left, right, node_hash(left, right)))
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """True when ``proof`` shows leaf ``index`` is in the tree of ``size`` leaves with ``root``."""
    return root_from_inclusion_proof(index, size, leaf, proof) == root


def verify_consistency(
    old_size: int,
    size: int,
    old_root: bytes,
    root: bytes,
    proof: Sequence[bytes],
    trace: list[tuple[bytes, bytes | None, bytes]] | None = None,
) -> bool:
    """True when ``proof`` shows the tree of ``size`` leaves extends the tree of ``old_size`` (§2.1.4.2).

    With ``trace``, each proof node is appended as (c, the new fr or None when fr is unchanged, the new
    sr): the worked example of the pack's README."""
    if old_size < 0 or size < old_size or any(len(p) != HASH_SIZE for p in proof):
        return False
    if old_size == size:
        return not proof and old_root == root
    if old_size == 0:
        return not proof  # every tree extends the empty one
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is itself a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        both = fn & 1 or fn == sn
        if both:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        if trace is not None:
            trace.append((c, fr if both else None, sr))
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == root and sn == 0


@dataclass
class CompactRange:
    """The perfect subtrees on the right edge of a tree: enough to extend it and to compute its root.

    ``nodes`` are (height, hash) pairs, left to right, heights strictly decreasing.
    """

    size: int = 0
    nodes: list[tuple[int, bytes]] = field(default_factory=list)

    def append(self, leaf: bytes, made: list[tuple[int, int, bytes]] | None = None) -> None:
        """Add the next leaf hash; with ``made``, append each perfect subtree of height ≥
        ``STORED_HEIGHT`` this completes, as (height, index, hash)."""
        height, value = 0, leaf
        while self.nodes and self.nodes[-1][0] == height:
            _, left = self.nodes.pop()
            value = node_hash(left, value)
            height += 1
            if made is not None and height >= STORED_HEIGHT:
                made.append((height, ((self.size + 1) >> height) - 1, value))
        self.nodes.append((height, value))
        self.size += 1

    def root(self) -> bytes:
        """MTH of the leaves appended so far."""
        if not self.nodes:
            return EMPTY_ROOT
        value = self.nodes[-1][1]
        for _, left in reversed(self.nodes[:-1]):
            value = node_hash(left, value)
        return value

    def as_json(self) -> list[list[int | str]]:
        """A JSON-friendly form: [[height, hex], ...]."""
        return [[height, value.hex()] for height, value in self.nodes]

    @classmethod
    def from_json(cls, size: int, nodes: Sequence[Sequence[int | str]]) -> CompactRange:
        """The range stored with a checkpoint; checked against ``size``."""
        parsed = [(int(h), bytes.fromhex(str(v))) for h, v in nodes]
        if sum(1 << h for h, _ in parsed) != size or any(len(v) != HASH_SIZE for _, v in parsed):
            raise ValueError("the stored compact range does not describe a tree of that size")
        return cls(size=size, nodes=parsed)
