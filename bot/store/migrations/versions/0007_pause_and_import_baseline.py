"""pauses and the import baseline

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

- ``invoice.paused_until`` / ``pause_reason`` and ``customer.paused_until`` / ``pause_reason``:
  ``dunbot pause`` holds the ladder for an invoice or a whole customer until a date (DESIGN §8).
- ``invoice.source_status``: the status the source itself gave at the last import. An import
  changes dunbot's ``status`` only when the source's own value changed since then, so a dispute
  closed in dunbot is not reopened by importing the same ledger again. Invoices whose dispute was
  opened or closed in dunbot start from the status the source must have given (see upgrade()).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoice") as batch:
        batch.add_column(sa.Column("paused_until", sa.Date(), nullable=True))
        batch.add_column(sa.Column("pause_reason", sa.String(), nullable=True))
        batch.add_column(sa.Column("source_status", sa.String(length=16), nullable=True))
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("paused_until", sa.Date(), nullable=True))
        batch.add_column(sa.Column("pause_reason", sa.String(), nullable=True))
    # What is in the table now came from the source: it is the baseline of the next import ...
    op.execute("UPDATE invoice SET source_status = status")
    # ... except where people recorded a dispute in dunbot. Before 0007 an import kept a dispute
    # opened in dunbot against a source saying "open", and reopened one closed in dunbot when the
    # source still said "disputed". So the baseline of an invoice with a `dunbot dispute` event is
    # the other of the two: the same file then changes nothing people recorded, and a source that
    # says what dunbot holds is seen as a change to that value, which changes nothing either.
    # (set_dispute names one invoice per event: its `invoices` column is ["NUMBER"].)
    op.execute(
        """
        UPDATE invoice
        SET source_status = CASE status WHEN 'disputed' THEN 'open' ELSE 'disputed' END
        WHERE status IN ('open', 'disputed')
          AND EXISTS (
            SELECT 1 FROM evidence_event e
            WHERE e.kind = 'dispute' AND e.invoices = '["' || invoice.number || '"]'
          )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.drop_column("pause_reason")
        batch.drop_column("paused_until")
    with op.batch_alter_table("invoice") as batch:
        batch.drop_column("source_status")
        batch.drop_column("pause_reason")
        batch.drop_column("paused_until")
