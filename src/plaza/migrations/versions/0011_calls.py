"""calls

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 18:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "call_record",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("caller_id", sa.BigInteger(), nullable=False),
        sa.Column("callee_id", sa.BigInteger(), nullable=False),
        sa.Column("conversation_id", sa.BigInteger(), nullable=True),
        sa.Column("media", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.Column("ended_by", sa.BigInteger(), nullable=True),
        sa.Column("replaced_by", sa.BigInteger(), nullable=True),
        _ts("created_at"),
        _ts("answered_at", True),
        _ts("ended_at", True),
        sa.Column("caller_device", sa.BigInteger(), nullable=False),
        sa.Column("answered_device", sa.BigInteger(), nullable=True),
        sa.Column("offer_sdp", sa.Text(), nullable=True),
        sa.Column("answer_sdp", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["caller_id"],
            ["identity_user.id"],
            name=op.f("fk_call_record_caller_id_identity_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["callee_id"],
            ["identity_user.id"],
            name=op.f("fk_call_record_callee_id_identity_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_record")),
    )
    op.create_index("ix_call_record_caller_id_id", "call_record", ["caller_id", "id"])
    op.create_index("ix_call_record_callee_id_id", "call_record", ["callee_id", "id"])
    op.create_index("ix_call_record_state_created_at", "call_record", ["state", "created_at"])

    op.create_table(
        "call_candidate",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", sa.BigInteger(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["call_record.id"],
            name=op.f("fk_call_candidate_call_id_call_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_candidate")),
    )
    op.create_index(op.f("ix_call_candidate_call_id"), "call_candidate", ["call_id"])

    op.create_table(
        "call_preference",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("calls_enabled", sa.Boolean(), nullable=False),
        sa.Column("call_policy", sa.String(length=16), nullable=False),
        sa.Column("calls_relay_only", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_user.id"],
            name=op.f("fk_call_preference_user_id_identity_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_call_preference")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("call_preference")
    op.drop_index(op.f("ix_call_candidate_call_id"), table_name="call_candidate")
    op.drop_table("call_candidate")
    op.drop_index("ix_call_record_state_created_at", table_name="call_record")
    op.drop_index("ix_call_record_callee_id_id", table_name="call_record")
    op.drop_index("ix_call_record_caller_id_id", table_name="call_record")
    op.drop_table("call_record")
