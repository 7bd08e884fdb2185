"""Merkle nodes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

merkle_node keeps the perfect subtrees of 64 leaves and up of the evidence log's Merkle tree, so
that exporting a pack reads O(log n) nodes per proof instead of every leaf of the log (issue 5). The
nodes of the events already there are computed here from their leaf hashes.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_STORED_HEIGHT = 6  # bot.evidence.merkle.STORED_HEIGHT when this migration was written
_BATCH = 20_000


def upgrade() -> None:
    op.create_table(
        "merkle_node",
        sa.Column("height", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ordinal", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("height", "ordinal"),
    )
    _backfill()


def _backfill() -> None:
    """The nodes of the log's gapless prefix (a gap is for `verify --db` to report, not to guess at)."""
    connection = op.get_bind()
    # Options on the statement, not the connection: alembic's own statements must not stream.
    rows = connection.execute(
        sa.text("SELECT seq, leaf_hash FROM evidence_event ORDER BY seq").execution_options(
            stream_results=True, yield_per=_BATCH
        )
    )
    insert = sa.text("INSERT INTO merkle_node (height, ordinal, hash) VALUES (:height, :ordinal, :hash)")
    edge: list[tuple[int, bytes]] = []  # the compact range: (height, hash), heights decreasing
    made: list[dict[str, object]] = []
    size = 0
    for seq, leaf_hex in rows:
        if seq != size + 1 or not leaf_hex:  # the gapless prefix ends here
            break
        height, value = 0, bytes.fromhex(leaf_hex)
        while edge and edge[-1][0] == height:
            value = hashlib.sha256(b"\x01" + edge.pop()[1] + value).digest()
            height += 1
            if height >= _STORED_HEIGHT:
                made.append({"height": height, "ordinal": ((size + 1) >> height) - 1, "hash": value.hex()})
        edge.append((height, value))
        size = seq
        if len(made) >= _BATCH:
            connection.execute(insert, made)
            made = []
    if made:
        connection.execute(insert, made)


def downgrade() -> None:
    op.drop_table("merkle_node")
