"""Merkle leaves and signed checkpoints

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

evidence_event gains leaf_hash = SHA-256(0x00 ‖ body), filled in for the events already there (the
append-only triggers are lifted for that one statement and restored); checkpoint holds the signed
tree heads (issue 5).
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_SQLITE_UPDATE_TRIGGER = (
    "CREATE TRIGGER evidence_event_no_update BEFORE UPDATE ON evidence_event "
    "BEGIN SELECT RAISE(ABORT, 'evidence_event is append-only'); END"
)


def upgrade() -> None:
    # A plain ADD COLUMN (not a batch rebuild), so the append-only triggers stay in place.
    op.add_column("evidence_event", sa.Column("leaf_hash", sqlmodel.sql.sqltypes.AutoString(length=64)))
    _backfill_leaves()
    op.create_table(
        "checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.Integer(), nullable=False),
        sa.Column("root_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("statement", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("certificate", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("timestamp", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("compact_range", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tree_size"),
    )


def _backfill_leaves() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT seq, body FROM evidence_event WHERE leaf_hash IS NULL")).all()
    if not rows:
        return
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE evidence_event DISABLE TRIGGER evidence_event_no_change")
    else:
        op.execute("DROP TRIGGER IF EXISTS evidence_event_no_update")
    connection.execute(
        sa.text("UPDATE evidence_event SET leaf_hash = :leaf WHERE seq = :seq AND leaf_hash IS NULL"),
        [
            {"seq": seq, "leaf": hashlib.sha256(b"\x00" + body.encode("utf-8")).hexdigest()}
            for seq, body in rows
        ],
    )
    if postgres:
        op.execute("ALTER TABLE evidence_event ENABLE TRIGGER evidence_event_no_change")
    else:
        op.execute(_SQLITE_UPDATE_TRIGGER)


def downgrade() -> None:
    op.drop_table("checkpoint")
    with op.batch_alter_table("evidence_event", schema=None) as batch_op:
        batch_op.drop_column("leaf_hash")
    if op.get_bind().dialect.name != "postgresql":
        # SQLite's batch mode rebuilt the table, and its triggers with it: put them back.
        op.execute("DROP TRIGGER IF EXISTS evidence_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS evidence_event_no_delete")
        op.execute(_SQLITE_UPDATE_TRIGGER)
        op.execute(
            "CREATE TRIGGER evidence_event_no_delete BEFORE DELETE ON evidence_event "
            "BEGIN SELECT RAISE(ABORT, 'evidence_event is append-only'); END"
        )
