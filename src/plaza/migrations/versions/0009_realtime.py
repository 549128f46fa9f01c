"""realtime

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 13:50:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    # Placeholder: filled in by the realtime work.
    _ = (sa, op)


def downgrade() -> None:
    """Downgrade schema."""
