"""RFC 9162 Merkle trees: the published Certificate Transparency vectors, mutated proofs, properties."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.evidence.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleTree,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

# The test vectors of RFC 6962 / RFC 9162 implementations (Certificate Transparency's reference tests):
# eight leaves, the tree head of every prefix, and known audit paths and consistency proofs.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (leaf index, tree size, audit path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CT_CONSISTENCY = [  # (old size, new size, proof)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _tree(leaves: list[bytes]) -> MerkleTree:
    return MerkleTree(leaf_hash(leaf) for leaf in leaves)


def _reference_root(hashes: list[bytes]) -> bytes:
    """MTH written as RFC 9162 §2.1.1 states it, recursively, to check the level-based tree against."""
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(_reference_root(hashes[:k]), _reference_root(hashes[k:]))


def test_the_empty_tree_and_the_leaf_hash() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert MerkleTree(b"").root() == EMPTY_ROOT
    assert leaf_hash(b"").hex() == CT_ROOTS[0]  # a one-leaf tree's root is its leaf hash


@pytest.mark.parametrize("size", range(1, 9))
def test_tree_heads_match_the_published_vectors(size: int) -> None:
    tree = _tree(CT_LEAVES)
    assert tree.root(size).hex() == CT_ROOTS[size - 1]
    assert _tree(CT_LEAVES[:size]).root().hex() == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_audit_paths_match_the_published_vectors(index: int, size: int, path: list[str]) -> None:
    tree = _tree(CT_LEAVES)
    assert [p.hex() for p in tree.inclusion_proof(index, size)] == path
    root = bytes.fromhex(CT_ROOTS[size - 1])
    assert verify_inclusion(index, size, tree.leaf(index), [bytes.fromhex(p) for p in path], root)


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY)
def test_consistency_proofs_match_the_published_vectors(old: int, new: int, proof: list[str]) -> None:
    tree = _tree(CT_LEAVES)
    assert [p.hex() for p in tree.consistency_proof(old, new)] == proof
    roots = [bytes.fromhex(r) for r in CT_ROOTS]
    assert verify_consistency(old, new, roots[old - 1], roots[new - 1], [bytes.fromhex(p) for p in proof])


def _flip(value: bytes, bit: int = 3) -> bytes:
    return bytes([value[0] ^ (1 << bit)]) + value[1:]


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_mutated_audit_paths_are_rejected(index: int, size: int, path: list[str]) -> None:
    proof = [bytes.fromhex(p) for p in path]
    root = bytes.fromhex(CT_ROOTS[size - 1])
    leaf = _tree(CT_LEAVES).leaf(index)
    wrong: list[tuple[str, int, int, bytes, list[bytes], bytes]] = [
        ("index - 1", index - 1, size, leaf, proof, root),
        ("index + 1", index + 1, size, leaf, proof, root),
        ("index ^ 2", index ^ 2, size, leaf, proof, root),
        ("size * 2", index, size * 2, leaf, proof, root),
        ("size / 2", index, size // 2, leaf, proof, root),
        ("wrong leaf", index, size, leaf_hash(b"WrongLeaf"), proof, root),
        ("empty root", index, size, leaf, proof, EMPTY_ROOT),
        ("random root", index, size, leaf, proof, SOME_HASH),
        ("trailing garbage", index, size, leaf, [*proof, b""], root),
        ("trailing root", index, size, leaf, [*proof, root], root),
        ("preceding garbage", index, size, leaf, [b"", *proof], root),
        ("preceding root", index, size, leaf, [root, *proof], root),
        ("removed component", index, size, leaf, proof[:-1], root),
        ("inserted component", index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root),
    ]
    wrong += [
        (f"proof[{i}] bit flipped", index, size, leaf, [*proof[:i], _flip(p), *proof[i + 1 :]], root)
        for i, p in enumerate(proof)
    ]
    accepted = [name for name, i, n, lf, pr, rt in wrong if verify_inclusion(i, n, lf, pr, rt)]
    assert accepted == []


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY)
def test_mutated_consistency_proofs_are_rejected(old: int, new: int, proof: list[str]) -> None:
    path = [bytes.fromhex(p) for p in proof]
    roots = [bytes.fromhex(r) for r in CT_ROOTS]
    r1, r2 = roots[old - 1], roots[new - 1]
    wrong = [
        ("old - 1", old - 1, new, r1, r2, path),
        ("old + 1", old + 1, new, r1, r2, path),
        ("old ^ 2", old ^ 2, new, r1, r2, path),
        ("new * 2", old, new * 2, r1, r2, path),
        ("new / 2", old, new // 2, r1, r2, path),
        ("wrong old root", old, new, SOME_HASH, r2, path),
        ("wrong new root", old, new, r1, SOME_HASH, path),
        ("swapped roots", old, new, r2, r1, path),
        ("empty proof", old, new, r1, r2, []),
        ("trailing garbage", old, new, r1, r2, [*path, b""]),
        ("trailing old root", old, new, r1, r2, [*path, r1]),
        ("trailing new root", old, new, r1, r2, [*path, r2]),
        ("preceding garbage", old, new, r1, r2, [b"", *path]),
        ("preceding old root", old, new, r1, r2, [r1, *path]),
        ("preceding new root", old, new, r1, r2, [r2, *path]),
        ("preceding proof[0]", old, new, r1, r2, [path[0], *path]),
        ("truncated", old, new, r1, r2, path[:-1]),
    ]
    wrong += [
        (f"proof[{i}] bit flipped", old, new, r1, r2, [*path[:i], _flip(p, 4), *path[i + 1 :]])
        for i, p in enumerate(path)
    ]
    accepted = [name for name, m, n, a, b, pr in wrong if verify_consistency(m, n, a, b, pr)]
    assert accepted == []


def test_degenerate_consistency_cases() -> None:
    r1, r2 = leaf_hash(b"1"), leaf_hash(b"2")
    assert verify_consistency(0, 0, r1, r1, [])  # the same empty tree
    assert verify_consistency(0, 5, r1, r2, [])  # every tree extends the empty one
    assert verify_consistency(3, 3, r2, r2, [])
    assert not verify_consistency(3, 3, r1, r2, [])  # same size, different root
    assert not verify_consistency(3, 3, r1, r1, [EMPTY_ROOT])  # same size needs no proof
    assert not verify_consistency(2, 1, r1, r2, [])  # time travel to the past


def test_an_inclusion_proof_outside_the_tree_is_rejected() -> None:
    assert root_from_inclusion_proof(0, 0, SOME_HASH, []) is None
    assert root_from_inclusion_proof(1, 1, SOME_HASH, []) is None
    assert root_from_inclusion_proof(0, 1, b"short", []) is None
    assert verify_inclusion(0, 1, SOME_HASH, [], SOME_HASH)  # a one-leaf tree: the leaf is the root


@pytest.mark.parametrize("size", [*range(1, 71), 1024, 1025])
def test_every_leaf_of_every_tree_size_proves_its_inclusion(size: int) -> None:
    hashes = [hashlib.sha256(n.to_bytes(4, "big")).digest() for n in range(size)]
    tree = MerkleTree(hashes)
    root = tree.root()
    assert root == _reference_root(hashes)
    step = 1 if size < 100 else 37
    for index in range(0, size, step):
        assert verify_inclusion(index, size, hashes[index], tree.inclusion_proof(index), root)


def test_every_pair_of_sizes_up_to_40_proves_consistency() -> None:
    hashes = [hashlib.sha256(n.to_bytes(4, "big")).digest() for n in range(40)]
    tree = MerkleTree(hashes)
    roots = [tree.root(n) for n in range(41)]
    for new in range(41):
        for old in range(new + 1):
            proof = tree.consistency_proof(old, new)
            assert verify_consistency(old, new, roots[old], roots[new], proof), (old, new)
            if 0 < old < new:
                assert not verify_consistency(old, new, roots[old], roots[new - 1], proof)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=12), min_size=1, max_size=140), st.data())
def test_prefix_roots_proofs_and_the_compact_range_agree(leaves: list[bytes], data: st.DataObject) -> None:
    hashes = [leaf_hash(leaf) for leaf in leaves]
    tree = MerkleTree(hashes)
    size = data.draw(st.integers(1, len(hashes)), label="size")
    old = data.draw(st.integers(0, size), label="old")
    index = data.draw(st.integers(0, size - 1), label="index")
    assert tree.root(size) == _reference_root(hashes[:size]) == MerkleTree(hashes[:size]).root()
    assert verify_inclusion(index, size, hashes[index], tree.inclusion_proof(index, size), tree.root(size))
    assert verify_consistency(old, size, tree.root(old), tree.root(size), tree.consistency_proof(old, size))
    compact = CompactRange()
    for value in hashes[:size]:
        compact.append(value)
    assert compact.root() == tree.root(size)
    restored = CompactRange.from_json(compact.size, compact.as_json())
    for value in hashes[size:]:
        restored.append(value)
    assert restored.root() == tree.root()


def test_a_compact_range_that_does_not_match_its_size_is_refused() -> None:
    compact = CompactRange()
    for n in range(5):
        compact.append(leaf_hash(bytes([n])))
    with pytest.raises(ValueError, match="does not describe"):
        CompactRange.from_json(6, compact.as_json())
