"""console: reassignment, the read models' indexes, the stored dashboard

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

- ``customer.assigned_to``: a manager's reassignment in the console (DESIGN §10); the ledger's
  ``account_manager`` stays as imported, and a customer is worked by ``assigned_to`` when set.
- Indexes the console's pages read by: ``customer(account_manager)``, ``customer(assigned_to)``
  (a collector's customers), ``evidence_event(customer, seq)`` (a timeline page, newest first) and
  ``task(status, created_at)`` (the open tasks).
- ``dashboard_snapshot``: the dashboard computed after a cycle or an import, so that the page reads
  one row instead of the whole ledger.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer") as batch_op:
        batch_op.add_column(
            sa.Column("assigned_to", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_customer_account_manager"), ["account_manager"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_assigned_to"), ["assigned_to"], unique=False)
    # plain CREATE INDEX: the evidence log's triggers forbid the copy a batch rebuild would make
    op.create_index("ix_evidence_event_customer_seq", "evidence_event", ["customer", "seq"], unique=False)
    op.create_index("ix_task_status_created_at", "task", ["status", "created_at"], unique=False)
    op.create_table(
        "dashboard_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("computed_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dashboard_snapshot") as batch_op:
        batch_op.create_index(batch_op.f("ix_dashboard_snapshot_as_of"), ["as_of"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dashboard_snapshot") as batch_op:
        batch_op.drop_index(batch_op.f("ix_dashboard_snapshot_as_of"))
    op.drop_table("dashboard_snapshot")
    op.drop_index("ix_task_status_created_at", table_name="task")
    op.drop_index("ix_evidence_event_customer_seq", table_name="evidence_event")
    with op.batch_alter_table("customer") as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_assigned_to"))
        batch_op.drop_index(batch_op.f("ix_customer_account_manager"))
        batch_op.drop_column("assigned_to")
