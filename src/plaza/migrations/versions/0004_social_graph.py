"""social graph

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 13:50:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _user_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        ["identity_user.id"],
        name=op.f(f"fk_{table}_{column}_identity_user"),
        ondelete="CASCADE",
    )


def _edge_table(name: str, source: str, target: str) -> None:
    """follow / follow_request / block / mute: an id-keyed edge between two users."""
    op.create_table(
        name,
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(source, sa.BigInteger(), nullable=False),
        sa.Column(target, sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _user_fk(name, source),
        _user_fk(name, target),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint(source, target, name=op.f(f"uq_{name}_{source}_{target}")),
    )


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "social_profile",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("username_key", sa.String(length=32), nullable=False),
        sa.Column("display_name", sa.String(length=50), nullable=False),
        sa.Column("bio", sa.String(length=300), nullable=False),
        sa.Column("website", sa.String(length=200), nullable=False),
        sa.Column("avatar_media_id", sa.BigInteger(), nullable=True),
        sa.Column("avatar_url", sa.String(length=1000), nullable=True),
        sa.Column("banner_media_id", sa.BigInteger(), nullable=True),
        sa.Column("banner_url", sa.String(length=1000), nullable=True),
        sa.Column("is_private", sa.Boolean(), nullable=False),
        sa.Column("is_creator", sa.Boolean(), nullable=False),
        sa.Column("followers_count", sa.Integer(), nullable=False),
        sa.Column("following_count", sa.Integer(), nullable=False),
        sa.Column("posts_count", sa.Integer(), nullable=False),
        sa.Column("notifications_read_id", sa.BigInteger(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        _user_fk("social_profile", "user_id"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_social_profile")),
        sa.UniqueConstraint("username_key", name=op.f("uq_social_profile_username_key")),
    )
    # Accounts that exist before social does get their row here; later ones get it
    # when identity announces them (or on first use).
    op.execute(
        "INSERT INTO social_profile (user_id, username, username_key, display_name, bio, "
        "website, is_private, is_creator, followers_count, following_count, posts_count, "
        "notifications_read_id, joined_at) "
        "SELECT id, username, username_key, '', '', '', false, false, 0, 0, 0, 0, created_at "
        "FROM identity_user"
    )

    _edge_table("social_follow", "follower_id", "followee_id")
    # Followers of X / whom X follows, newest first, paged by id.
    op.create_index("ix_social_follow_followee_id_id", "social_follow", ["followee_id", "id"])
    op.create_index("ix_social_follow_follower_id_id", "social_follow", ["follower_id", "id"])

    _edge_table("social_follow_request", "requester_id", "target_id")
    op.create_index(
        "ix_social_follow_request_target_id_id", "social_follow_request", ["target_id", "id"]
    )

    _edge_table("social_block", "blocker_id", "blocked_id")
    op.create_index("ix_social_block_blocker_id_id", "social_block", ["blocker_id", "id"])
    op.create_index("ix_social_block_blocked_id", "social_block", ["blocked_id"])

    _edge_table("social_mute", "muter_id", "muted_id")
    op.create_index("ix_social_mute_muter_id_id", "social_mute", ["muter_id", "id"])
    op.create_index("ix_social_mute_muted_id", "social_mute", ["muted_id"])

    op.create_table(
        "social_notification",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("recipient_id", sa.BigInteger(), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _user_fk("social_notification", "recipient_id"),
        _user_fk("social_notification", "actor_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_notification")),
    )
    op.create_index(
        "ix_social_notification_recipient_id_id", "social_notification", ["recipient_id", "id"]
    )
    # Likes and reposts notify once per actor and post; NULL keys never collide.
    op.create_index(
        "uq_social_notification_recipient_id_dedupe_key",
        "social_notification",
        ["recipient_id", "dedupe_key"],
        unique=True,
    )
    op.create_index("ix_social_notification_post_id", "social_notification", ["post_id"])
    op.create_index("ix_social_notification_actor_id", "social_notification", ["actor_id"])


def downgrade() -> None:
    """Downgrade schema."""
    for table in (
        "social_notification",
        "social_mute",
        "social_block",
        "social_follow_request",
        "social_follow",
        "social_profile",
    ):
        op.drop_table(table)
