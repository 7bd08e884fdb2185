"""inbound messages

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

Replies (DESIGN §11): ``inbound_message`` holds each e-mail or SMS that arrived, once (unique
``source_key``), with its handling state; ``undeliverable_contact`` the addresses and numbers that
bounced hard, which no further e-mail step is sent to until the contact changes. Indexes for
matching replies: ``message.message_id`` and the customers' addresses and numbers as compared.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    instant = bot.store.types.UTCDateTime(timezone=True)
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", text(length=16), nullable=False),
        sa.Column("source_key", text(length=255), nullable=False),
        sa.Column("raw_sha256", text(length=64), nullable=False),
        sa.Column("sender", text(length=320), nullable=False),
        sa.Column("subject", text(), nullable=False),
        sa.Column("header_message_id", text(length=998), nullable=True),
        sa.Column("received_at", instant, nullable=False),
        sa.Column("state", text(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", text(), nullable=True),
        sa.Column("lease_until", instant, nullable=True),
        sa.Column("last_error", text(), nullable=True),
        sa.Column("customer_id", text(length=64), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("matched_by", text(length=16), nullable=True),
        sa.Column("kind", text(length=16), nullable=True),
        sa.Column("confidence", sa.Numeric(4, 3), nullable=True),
        sa.Column("action", text(), nullable=True),
        sa.Column("details", text(), server_default="{}", nullable=False),
        sa.Column("created_at", instant, nullable=False),
        sa.Column("updated_at", instant, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_key"),
    )
    with op.batch_alter_table("inbound_message") as batch_op:
        batch_op.create_index("ix_inbound_message_state", ["state"], unique=False)
        batch_op.create_index("ix_inbound_message_raw_sha256", ["raw_sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbound_message_customer_id"), ["customer_id"], unique=False)
    op.create_table(
        "undeliverable_contact",
        sa.Column("channel", text(length=16), nullable=False),
        sa.Column("address", text(length=320), nullable=False),
        sa.Column("customer_id", text(length=64), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("reason", text(), nullable=False),
        sa.Column("at", instant, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("channel", "address"),
    )
    with op.batch_alter_table("undeliverable_contact") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_undeliverable_contact_customer_id"), ["customer_id"], unique=False
        )

    # Matching a reply (bot/replies/matching.py): In-Reply-To / References by the message's
    # Message-ID, and the sender by the customer's address or number as compared there. The two
    # expression indexes live here only (see EXPRESSION_INDEXES in bot/store/tables.py).
    with op.batch_alter_table("message") as batch_op:
        batch_op.create_index(batch_op.f("ix_message_message_id"), ["message_id"], unique=False)
    for name, column in (("ix_customer_email_match", "email"), ("ix_customer_phone_match", "phone")):
        op.execute(f"CREATE INDEX {name} ON customer (lower(trim({column})))")


def downgrade() -> None:
    for name in ("ix_customer_phone_match", "ix_customer_email_match"):
        op.execute(f"DROP INDEX {name}")
    with op.batch_alter_table("message") as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_message_id"))
    with op.batch_alter_table("undeliverable_contact") as batch_op:
        batch_op.drop_index(batch_op.f("ix_undeliverable_contact_customer_id"))
    op.drop_table("undeliverable_contact")
    with op.batch_alter_table("inbound_message") as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_message_customer_id"))
        batch_op.drop_index("ix_inbound_message_raw_sha256")
        batch_op.drop_index("ix_inbound_message_state")
    op.drop_table("inbound_message")
