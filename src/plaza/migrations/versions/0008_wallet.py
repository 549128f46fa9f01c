"""wallet

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 13:50:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "wallet_payment",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payer_id", sa.BigInteger(), nullable=False),
        sa.Column("payee_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("note", sa.String(length=280), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("transfer_id", sa.BigInteger(), nullable=False),
        sa.Column("refund_of", sa.BigInteger(), nullable=True),
        sa.Column("request_id", sa.BigInteger(), nullable=True),
        sa.Column("conversation_id", sa.BigInteger(), nullable=True),
        sa.Column("failure", sa.String(length=64), nullable=True),
        _ts("created_at"),
        _ts("completed_at", True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_payment")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_wallet_payment_transfer_id")),
    )
    op.create_index("ix_wallet_payment_payer_id_id", "wallet_payment", ["payer_id", "id"])
    op.create_index("ix_wallet_payment_payee_id_id", "wallet_payment", ["payee_id", "id"])
    op.create_index(
        "ix_wallet_payment_status_created_at", "wallet_payment", ["status", "created_at"]
    )
    op.create_index(op.f("ix_wallet_payment_refund_of"), "wallet_payment", ["refund_of"])

    op.create_table(
        "wallet_split",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("requester_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("note", sa.String(length=280), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_split")),
    )
    op.create_index(op.f("ix_wallet_split_requester_id"), "wallet_split", ["requester_id"])

    op.create_table(
        "wallet_request",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("requester_id", sa.BigInteger(), nullable=False),
        sa.Column("payer_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("note", sa.String(length=280), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("split_id", sa.BigInteger(), nullable=True),
        sa.Column("payment_id", sa.BigInteger(), nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False),
        _ts("reminded_at", True),
        _ts("created_at"),
        _ts("resolved_at", True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_request")),
    )
    op.create_index("ix_wallet_request_requester_id_id", "wallet_request", ["requester_id", "id"])
    op.create_index("ix_wallet_request_payer_id_id", "wallet_request", ["payer_id", "id"])
    op.create_index(op.f("ix_wallet_request_split_id"), "wallet_request", ["split_id"])

    op.create_table(
        "wallet_rail_transfer",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("speed", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("note", sa.String(length=140), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rail", sa.String(length=32), nullable=False),
        sa.Column("hold_transfer_id", sa.BigInteger(), nullable=False),
        sa.Column("settle_transfer_id", sa.BigInteger(), nullable=False),
        sa.Column("void_transfer_id", sa.BigInteger(), nullable=False),
        sa.Column("fee_transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("fee_settle_transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("fee_void_transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("return_transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("shortfall_transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("shortfall", sa.BigInteger(), nullable=False),
        sa.Column("failure_code", sa.String(length=32), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("settled_at", True),
        _ts("failed_at", True),
        _ts("returned_at", True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_rail_transfer")),
        sa.UniqueConstraint(
            "hold_transfer_id", name=op.f("uq_wallet_rail_transfer_hold_transfer_id")
        ),
        sa.UniqueConstraint(
            "settle_transfer_id", name=op.f("uq_wallet_rail_transfer_settle_transfer_id")
        ),
        sa.UniqueConstraint(
            "void_transfer_id", name=op.f("uq_wallet_rail_transfer_void_transfer_id")
        ),
    )
    op.create_index("ix_wallet_rail_transfer_user_id_id", "wallet_rail_transfer", ["user_id", "id"])
    op.create_index("ix_wallet_rail_transfer_status", "wallet_rail_transfer", ["status"])

    op.create_table(
        "wallet_sandbox_entry",
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("instant", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=140), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_code", sa.String(length=32), nullable=True),
        _ts("submitted_at"),
        _ts("settled_at", True),
        _ts("failed_at", True),
        _ts("returned_at", True),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_wallet_sandbox_entry")),
    )

    op.create_table(
        "wallet_profile",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("verification", sa.String(length=16), nullable=False),
        sa.Column("details_encrypted", sa.LargeBinary(length=4096), nullable=True),
        _ts("submitted_at", True),
        _ts("decided_at", True),
        sa.Column("restricted_reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_user.id"],
            name=op.f("fk_wallet_profile_user_id_identity_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_wallet_profile")),
    )

    op.create_table(
        "wallet_flag",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        _ts("created_at"),
        _ts("resolved_at", True),
        sa.Column("resolved_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_user.id"],
            name=op.f("fk_wallet_flag_user_id_identity_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_flag")),
    )
    op.create_index(op.f("ix_wallet_flag_user_id"), "wallet_flag", ["user_id"])

    op.create_table(
        "wallet_dispute",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("payment_id", sa.BigInteger(), nullable=False),
        sa.Column("payer_id", sa.BigInteger(), nullable=False),
        sa.Column("payee_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("clawed_back", sa.BigInteger(), nullable=False),
        sa.Column("clawback_transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("credit_transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("resolution_note", sa.String(length=1000), nullable=False),
        _ts("created_at"),
        _ts("resolved_at", True),
        sa.Column("resolved_by", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_dispute")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_wallet_dispute_payment_id")),
    )
    op.create_index(op.f("ix_wallet_dispute_payer_id"), "wallet_dispute", ["payer_id"])


def downgrade() -> None:
    """Downgrade schema."""
    for table in (
        "wallet_dispute",
        "wallet_flag",
        "wallet_profile",
        "wallet_sandbox_entry",
        "wallet_rail_transfer",
        "wallet_request",
        "wallet_split",
        "wallet_payment",
    ):
        op.drop_table(table)
