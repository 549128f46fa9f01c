"""media

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 13:50:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "media_item",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("ext", sa.String(length=8), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("alt_text", sa.String(length=1500), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("thumb_key", sa.String(length=200), nullable=True),
        sa.Column("thumb_bytes", sa.BigInteger(), nullable=True),
        sa.Column("source_key", sa.String(length=200), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("subject", sa.String(length=32), nullable=True),
        sa.Column("subject_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["identity_user.id"],
            name=op.f("fk_media_item_owner_id_identity_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_item")),
    )
    op.create_index(op.f("ix_media_item_owner_id"), "media_item", ["owner_id"], unique=False)
    op.create_index(op.f("ix_media_item_created_at"), "media_item", ["created_at"], unique=False)
    op.create_index("ix_media_item_subject", "media_item", ["subject", "subject_id"], unique=False)

    op.create_table(
        "media_upload",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("alt_text", sa.String(length=1500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["identity_user.id"],
            name=op.f("fk_media_upload_owner_id_identity_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_upload")),
    )
    op.create_index(op.f("ix_media_upload_owner_id"), "media_upload", ["owner_id"], unique=False)
    op.create_index(
        op.f("ix_media_upload_created_at"), "media_upload", ["created_at"], unique=False
    )

    op.create_table(
        "media_upload_part",
        sa.Column("upload_id", sa.BigInteger(), nullable=False),
        sa.Column("start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["media_upload.id"],
            name=op.f("fk_media_upload_part_upload_id_media_upload"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("upload_id", "start", name=op.f("pk_media_upload_part")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("media_upload_part")
    op.drop_index(op.f("ix_media_upload_created_at"), table_name="media_upload")
    op.drop_index(op.f("ix_media_upload_owner_id"), table_name="media_upload")
    op.drop_table("media_upload")
    op.drop_index("ix_media_item_subject", table_name="media_item")
    op.drop_index(op.f("ix_media_item_created_at"), table_name="media_item")
    op.drop_index(op.f("ix_media_item_owner_id"), table_name="media_item")
    op.drop_table("media_item")
