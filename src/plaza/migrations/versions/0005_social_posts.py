"""social posts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 13:50:00

Posts, edits, reposts, likes, bookmarks, and full-text search over posts and over the
graph's ``social_profile`` (username, display name): FTS5 external-content tables kept
by triggers on SQLite; GIN expression indexes on PostgreSQL (``to_tsvector('simple',
...)``, queried with ``websearch_to_tsquery``). The ``simple`` configuration does not
stem, which suits posts written in any language.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Shared by the migration and the search queries (plaza/social/search.py): the
# expressions must match the indexes' exactly for PostgreSQL to use them.
PG_POST_TSV = "to_tsvector('simple', text)"
PG_PROFILE_TSV = "to_tsvector('simple', username || ' ' || display_name)"

_SQLITE_FTS = [
    # remove_diacritics 2: "cafe" finds "café".
    "CREATE VIRTUAL TABLE social_post_fts USING fts5(text, content='social_post', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER social_post_fts_ai AFTER INSERT ON social_post BEGIN "
    "INSERT INTO social_post_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER social_post_fts_ad AFTER DELETE ON social_post BEGIN "
    "INSERT INTO social_post_fts(social_post_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER social_post_fts_au AFTER UPDATE OF text ON social_post BEGIN "
    "INSERT INTO social_post_fts(social_post_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    "INSERT INTO social_post_fts(rowid, text) VALUES (new.id, new.text); END",
]

_SQLITE_PROFILE_FTS = [
    "CREATE VIRTUAL TABLE social_profile_fts USING fts5(username, display_name, "
    "content='social_profile', content_rowid='user_id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER social_profile_fts_ai AFTER INSERT ON social_profile BEGIN "
    "INSERT INTO social_profile_fts(rowid, username, display_name) "
    "VALUES (new.user_id, new.username, new.display_name); END",
    "CREATE TRIGGER social_profile_fts_ad AFTER DELETE ON social_profile BEGIN "
    "INSERT INTO social_profile_fts(social_profile_fts, rowid, username, display_name) "
    "VALUES ('delete', old.user_id, old.username, old.display_name); END",
    "CREATE TRIGGER social_profile_fts_au AFTER UPDATE OF username, display_name "
    "ON social_profile BEGIN "
    "INSERT INTO social_profile_fts(social_profile_fts, rowid, username, display_name) "
    "VALUES ('delete', old.user_id, old.username, old.display_name); "
    "INSERT INTO social_profile_fts(rowid, username, display_name) "
    "VALUES (new.user_id, new.username, new.display_name); END",
    # Profiles made before this migration.
    "INSERT INTO social_profile_fts(social_profile_fts) VALUES ('rebuild')",
]

_SQLITE_FTS_DROP = [
    "DROP TRIGGER IF EXISTS social_profile_fts_au",
    "DROP TRIGGER IF EXISTS social_profile_fts_ad",
    "DROP TRIGGER IF EXISTS social_profile_fts_ai",
    "DROP TABLE IF EXISTS social_profile_fts",
    "DROP TRIGGER IF EXISTS social_post_fts_au",
    "DROP TRIGGER IF EXISTS social_post_fts_ad",
    "DROP TRIGGER IF EXISTS social_post_fts_ai",
    "DROP TABLE IF EXISTS social_post_fts",
]

_PG_FTS = [f"CREATE INDEX ix_social_post_fts ON social_post USING gin ({PG_POST_TSV})"]
_PG_PROFILE_FTS = [
    f"CREATE INDEX ix_social_profile_fts ON social_profile USING gin ({PG_PROFILE_TSV})",
]

_PG_FTS_DROP = [
    "DROP INDEX IF EXISTS ix_social_profile_fts",
    "DROP INDEX IF EXISTS ix_social_post_fts",
]


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"],
        ["identity_user.id"],
        name=op.f(f"fk_{table}_user_id_identity_user"),
        ondelete="CASCADE",
    )


def _post_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["post_id"],
        ["social_post.id"],
        name=op.f(f"fk_{table}_post_id_social_post"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "social_post",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("reply_to_id", sa.BigInteger(), nullable=True),
        sa.Column("conversation_id", sa.BigInteger(), nullable=False),
        sa.Column("quote_of_id", sa.BigInteger(), nullable=True),
        sa.Column("media_ids", sa.JSON(), nullable=False),
        sa.Column("has_media", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("like_count", sa.Integer(), nullable=False),
        sa.Column("repost_count", sa.Integer(), nullable=False),
        sa.Column("reply_count", sa.Integer(), nullable=False),
        sa.Column("quote_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["identity_user.id"],
            name=op.f("fk_social_post_author_id_identity_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_post")),
    )
    with op.batch_alter_table("social_post", schema=None) as batch_op:
        batch_op.create_index("ix_social_post_author_id_id", ["author_id", "id"], unique=False)
        batch_op.create_index("ix_social_post_reply_to_id_id", ["reply_to_id", "id"], unique=False)
        batch_op.create_index("ix_social_post_quote_of_id", ["quote_of_id"], unique=False)

    op.create_table(
        "social_post_edit",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        _post_fk("social_post_edit"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_post_edit")),
    )
    with op.batch_alter_table("social_post_edit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_social_post_edit_post_id"), ["post_id"], unique=False)

    op.create_table(
        "social_repost",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _post_fk("social_repost"),
        _user_fk("social_repost"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_repost")),
    )
    with op.batch_alter_table("social_repost", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_social_repost_post_id"), ["post_id"], unique=False)
        batch_op.create_index("ix_social_repost_user_id_id", ["user_id", "id"], unique=False)
        batch_op.create_index(
            "uq_social_repost_user_id_post_id", ["user_id", "post_id"], unique=True
        )

    op.create_table(
        "social_like",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _post_fk("social_like"),
        _user_fk("social_like"),
        sa.PrimaryKeyConstraint("user_id", "post_id", name=op.f("pk_social_like")),
    )
    with op.batch_alter_table("social_like", schema=None) as batch_op:
        batch_op.create_index("ix_social_like_post_id", ["post_id"], unique=False)

    op.create_table(
        "social_bookmark",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _post_fk("social_bookmark"),
        _user_fk("social_bookmark"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_bookmark")),
    )
    with op.batch_alter_table("social_bookmark", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_social_bookmark_post_id"), ["post_id"], unique=False)
        batch_op.create_index("ix_social_bookmark_user_id_id", ["user_id", "id"], unique=False)
        batch_op.create_index(
            "uq_social_bookmark_user_id_post_id", ["user_id", "post_id"], unique=True
        )

    if op.get_bind().dialect.name == "sqlite":
        statements = _SQLITE_FTS + _SQLITE_PROFILE_FTS
    else:
        statements = _PG_FTS + _PG_PROFILE_FTS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    """Downgrade schema."""
    drops = _SQLITE_FTS_DROP if op.get_bind().dialect.name == "sqlite" else _PG_FTS_DROP
    for statement in drops:
        op.execute(statement)
    op.drop_table("social_bookmark")
    op.drop_table("social_like")
    op.drop_table("social_repost")
    op.drop_table("social_post_edit")
    op.drop_table("social_post")
