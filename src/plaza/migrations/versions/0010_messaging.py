"""messaging

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 16:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _user_fk(
    table: str, column: str = "user_id", ondelete: str = "CASCADE"
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        ["identity_user.id"],
        name=op.f(f"fk_{table}_{column}_identity_user"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "dm_conversation",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("direct_key", sa.String(length=50), nullable=True),
        sa.Column("last_message_id", sa.BigInteger(), nullable=True),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        _user_fk("dm_conversation", "created_by", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dm_conversation")),
        sa.UniqueConstraint("direct_key", name=op.f("uq_dm_conversation_direct_key")),
    )
    op.create_table(
        "dm_preference",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("dm_policy", sa.String(length=16), nullable=False),
        sa.Column("read_receipts", sa.Boolean(), nullable=False),
        _user_fk("dm_preference"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_dm_preference")),
    )
    op.create_table(
        "dm_member",
        sa.Column("conversation_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visible_from_id", sa.BigInteger(), nullable=False),
        sa.Column("visible_until_id", sa.BigInteger(), nullable=True),
        sa.Column("last_read_id", sa.BigInteger(), nullable=False),
        sa.Column("last_delivered_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["dm_conversation.id"],
            name=op.f("fk_dm_member_conversation_id_dm_conversation"),
            ondelete="CASCADE",
        ),
        _user_fk("dm_member"),
        sa.PrimaryKeyConstraint("conversation_id", "user_id", name=op.f("pk_dm_member")),
    )
    op.create_index("ix_dm_member_user_id_state", "dm_member", ["user_id", "state"], unique=False)
    op.create_table(
        "dm_message",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("conversation_id", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("fingerprint", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reply_to_id", sa.BigInteger(), nullable=True),
        sa.Column("media_ids", sa.JSON(), nullable=False),
        sa.Column("payment", sa.JSON(), nullable=True),
        sa.Column("system", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["dm_conversation.id"],
            name=op.f("fk_dm_message_conversation_id_dm_conversation"),
            ondelete="CASCADE",
        ),
        _user_fk("dm_message", "sender_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dm_message")),
        sa.UniqueConstraint(
            "sender_id", "client_id", name=op.f("uq_dm_message_sender_id_client_id")
        ),
    )
    op.create_index(
        "ix_dm_message_conversation_id_id", "dm_message", ["conversation_id", "id"], unique=False
    )
    op.create_table(
        "dm_hidden",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["dm_message.id"],
            name=op.f("fk_dm_hidden_message_id_dm_message"),
            ondelete="CASCADE",
        ),
        _user_fk("dm_hidden"),
        sa.PrimaryKeyConstraint("user_id", "message_id", name=op.f("pk_dm_hidden")),
    )
    op.create_table(
        "dm_message_edit",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["dm_message.id"],
            name=op.f("fk_dm_message_edit_message_id_dm_message"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dm_message_edit")),
    )
    op.create_index(
        "ix_dm_message_edit_message_id_id", "dm_message_edit", ["message_id", "id"], unique=False
    )
    op.create_table(
        "dm_reaction",
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("emoji", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["dm_message.id"],
            name=op.f("fk_dm_reaction_message_id_dm_message"),
            ondelete="CASCADE",
        ),
        _user_fk("dm_reaction"),
        sa.PrimaryKeyConstraint("message_id", "user_id", "emoji", name=op.f("pk_dm_reaction")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("dm_reaction")
    op.drop_index("ix_dm_message_edit_message_id_id", table_name="dm_message_edit")
    op.drop_table("dm_message_edit")
    op.drop_table("dm_hidden")
    op.drop_index("ix_dm_message_conversation_id_id", table_name="dm_message")
    op.drop_table("dm_message")
    op.drop_index("ix_dm_member_user_id_state", table_name="dm_member")
    op.drop_table("dm_member")
    op.drop_table("dm_preference")
    op.drop_table("dm_conversation")
