"""safety

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 13:50:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "safety_label",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("risk", sa.String(length=8), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("origin", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_label")),
        sa.UniqueConstraint(
            "subject",
            "subject_id",
            "source",
            "category",
            name=op.f("uq_safety_label_subject_subject_id_source_category"),
        ),
    )
    op.create_index("ix_safety_label_subject", "safety_label", ["subject", "subject_id"], unique=False)

    op.create_table(
        "safety_report",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("reporter_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["identity_user.id"],
            name=op.f("fk_safety_report_author_id_identity_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["identity_user.id"],
            name=op.f("fk_safety_report_reporter_id_identity_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_report")),
        sa.UniqueConstraint(
            "reporter_id",
            "subject",
            "subject_id",
            name=op.f("uq_safety_report_reporter_id_subject_subject_id"),
        ),
    )
    op.create_index(
        op.f("ix_safety_report_author_id"), "safety_report", ["author_id"], unique=False
    )
    op.create_index(
        "ix_safety_report_status_subject",
        "safety_report",
        ["status", "subject", "subject_id"],
        unique=False,
    )

    op.create_table(
        "safety_audit",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_audit")),
    )
    op.create_index("ix_safety_audit_subject", "safety_audit", ["subject", "subject_id"], unique=False)

    op.create_table(
        "safety_preference",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("sensitive_media", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_user.id"],
            name=op.f("fk_safety_preference_user_id_identity_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_safety_preference")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("safety_preference")
    op.drop_index("ix_safety_audit_subject", table_name="safety_audit")
    op.drop_table("safety_audit")
    op.drop_index("ix_safety_report_status_subject", table_name="safety_report")
    op.drop_index(op.f("ix_safety_report_author_id"), table_name="safety_report")
    op.drop_table("safety_report")
    op.drop_index("ix_safety_label_subject", table_name="safety_label")
    op.drop_table("safety_label")
