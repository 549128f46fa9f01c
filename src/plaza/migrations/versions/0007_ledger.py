"""ledger

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 13:50:00

The ledger's accounts and immutable transfers, and the core's idempotency keys.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "core_idempotency_key",
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_core_idempotency_key")),
    )
    op.create_index(
        "ix_core_idempotency_key_created_at", "core_idempotency_key", ["created_at"], unique=False
    )
    op.create_table(
        "ledger_account",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("debits_must_not_exceed_credits", sa.Boolean(), nullable=False),
        sa.Column("credits_must_not_exceed_debits", sa.Boolean(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "NOT credits_must_not_exceed_debits OR credits_posted + credits_pending <= debits_posted",
            name=op.f("ck_ledger_account_credits_within_debits"),
        ),
        sa.CheckConstraint(
            "NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted",
            name=op.f("ck_ledger_account_debits_within_credits"),
        ),
        sa.CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0",
            name=op.f("ck_ledger_account_balances_not_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_account")),
        sa.UniqueConstraint("name", "currency", name=op.f("uq_ledger_account_name_currency")),
        sa.UniqueConstraint(
            "owner_id", "code", "currency", name=op.f("uq_ledger_account_owner_id_code_currency")
        ),
    )
    op.create_table(
        "ledger_transfer",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("debit_account_id", sa.BigInteger(), nullable=False),
        sa.Column("credit_account_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("metadata_json", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("pending_id", sa.BigInteger(), nullable=True),
        sa.Column("timeout_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fingerprint", sa.LargeBinary(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(pending_id IS NULL) = (kind IN ('posted', 'pending'))",
            name=op.f("ck_ledger_transfer_pending_id_for_kind"),
        ),
        sa.CheckConstraint(
            "kind IN ('posted', 'pending', 'post_pending', 'void_pending')",
            name=op.f("ck_ledger_transfer_kind_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_transfer_amount_positive")),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id",
            name=op.f("ck_ledger_transfer_accounts_differ"),
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id"],
            ["ledger_account.id"],
            name=op.f("fk_ledger_transfer_credit_account_id_ledger_account"),
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id"],
            ["ledger_account.id"],
            name=op.f("fk_ledger_transfer_debit_account_id_ledger_account"),
        ),
        sa.ForeignKeyConstraint(
            ["pending_id"],
            ["ledger_transfer.id"],
            name=op.f("fk_ledger_transfer_pending_id_ledger_transfer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transfer")),
    )
    op.create_index(
        "uq_ledger_transfer_pending_id",
        "ledger_transfer",
        ["pending_id"],
        unique=True,
        sqlite_where=sa.text("pending_id IS NOT NULL"),
        postgresql_where=sa.text("pending_id IS NOT NULL"),
    )
    op.create_index(
        "ix_ledger_transfer_credit", "ledger_transfer", ["credit_account_id", "id"], unique=False
    )
    op.create_index(
        "ix_ledger_transfer_debit", "ledger_transfer", ["debit_account_id", "id"], unique=False
    )
    op.create_index(
        "ix_ledger_transfer_timeout",
        "ledger_transfer",
        ["timeout_at"],
        unique=False,
        sqlite_where=sa.text("kind = 'pending'"),
        postgresql_where=sa.text("kind = 'pending'"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Transfers are immutable, in the database too: no UPDATE or DELETE gets through.
        op.execute(
            "CREATE FUNCTION ledger_transfer_immutable() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'ledger transfers are immutable'; END $$"
        )
        op.execute(
            "CREATE TRIGGER ledger_transfer_immutable BEFORE UPDATE OR DELETE ON ledger_transfer "
            "FOR EACH ROW EXECUTE FUNCTION ledger_transfer_immutable()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ledger_transfer_no_{action.lower()} BEFORE {action} "
                "ON ledger_transfer BEGIN SELECT RAISE(ABORT, 'ledger transfers are immutable'); END"
            )


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_transfer_immutable ON ledger_transfer")
        op.execute("DROP FUNCTION IF EXISTS ledger_transfer_immutable()")
    op.drop_index("ix_ledger_transfer_timeout", table_name="ledger_transfer")
    op.drop_index("ix_ledger_transfer_debit", table_name="ledger_transfer")
    op.drop_index("ix_ledger_transfer_credit", table_name="ledger_transfer")
    op.drop_index("uq_ledger_transfer_pending_id", table_name="ledger_transfer")
    op.drop_table("ledger_transfer")
    op.drop_table("ledger_account")
    op.drop_index("ix_core_idempotency_key_created_at", table_name="core_idempotency_key")
    op.drop_table("core_idempotency_key")
