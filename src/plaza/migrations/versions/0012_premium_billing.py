"""premium billing: subscriptions and invoices

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 19:45:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    # Premium's notification kinds ("premium_payment_failed") are longer than 20.
    with op.batch_alter_table("social_notification", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=20), type_=sa.String(length=32)
        )
    op.create_table(
        "premium_subscription",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("plan", sa.String(length=16), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("wallet_account_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("anchor_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_index", sa.Integer(), nullable=False),
        sa.Column("current_period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("past_due_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("access_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_user.id"],
            name=op.f("fk_premium_subscription_user_id_identity_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_premium_subscription")),
    )
    with op.batch_alter_table("premium_subscription", schema=None) as batch_op:
        batch_op.create_index("ix_premium_subscription_due_at", ["due_at"], unique=False)
        batch_op.create_index("ix_premium_subscription_user_id", ["user_id"], unique=False)
        batch_op.create_index(
            "uq_premium_subscription_live",
            ["user_id"],
            unique=True,
            sqlite_where=sa.text("status != 'expired'"),
            postgresql_where=sa.text("status != 'expired'"),
        )

    op.create_table(
        "premium_invoice",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("subscription_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("period_index", sa.Integer(), nullable=False),
        sa.Column("plan", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("pending_transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["premium_subscription.id"],
            name=op.f("fk_premium_invoice_subscription_id_premium_subscription"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_user.id"],
            name=op.f("fk_premium_invoice_user_id_identity_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_premium_invoice")),
        sa.UniqueConstraint("subscription_id", "period_index", name="uq_premium_invoice_period"),
    )
    with op.batch_alter_table("premium_invoice", schema=None) as batch_op:
        batch_op.create_index("ix_premium_invoice_user_id", ["user_id", "id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("premium_invoice", schema=None) as batch_op:
        batch_op.drop_index("ix_premium_invoice_user_id")

    op.drop_table("premium_invoice")
    with op.batch_alter_table("premium_subscription", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_premium_subscription_live",
            sqlite_where=sa.text("status != 'expired'"),
            postgresql_where=sa.text("status != 'expired'"),
        )
        batch_op.drop_index("ix_premium_subscription_user_id")
        batch_op.drop_index("ix_premium_subscription_due_at")

    op.drop_table("premium_subscription")
    with op.batch_alter_table("social_notification", schema=None) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=32), type_=sa.String(length=20)
        )
