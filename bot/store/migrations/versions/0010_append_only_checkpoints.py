"""append-only checkpoints

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

The signed checkpoints become append-only like the events they cover (DESIGN §6, "Against an
insider"): triggers reject UPDATE and DELETE on SQLite, and UPDATE, DELETE and TRUNCATE on PostgreSQL.
Their ids are gapless from here on (create_checkpoint assigns max(id) + 1 under its lock); the rows
already there are kept as they are.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER checkpoint_no_{op_name.lower()} BEFORE {op_name} ON checkpoint "
    "BEGIN SELECT RAISE(ABORT, 'checkpoint is append-only'); END"
    for op_name in ("UPDATE", "DELETE")
]

_POSTGRES_TRIGGERS = [
    """CREATE FUNCTION dunbot_checkpoint_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'checkpoint is append-only'; END $$""",
    "CREATE TRIGGER checkpoint_no_change BEFORE UPDATE OR DELETE ON checkpoint "
    "FOR EACH ROW EXECUTE FUNCTION dunbot_checkpoint_append_only()",
    "CREATE TRIGGER checkpoint_no_truncate BEFORE TRUNCATE ON checkpoint "
    "FOR EACH STATEMENT EXECUTE FUNCTION dunbot_checkpoint_append_only()",
]


def upgrade() -> None:
    statements = _POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS checkpoint_no_change ON checkpoint")
        op.execute("DROP TRIGGER IF EXISTS checkpoint_no_truncate ON checkpoint")
        op.execute("DROP FUNCTION IF EXISTS dunbot_checkpoint_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS checkpoint_no_update")
        op.execute("DROP TRIGGER IF EXISTS checkpoint_no_delete")
