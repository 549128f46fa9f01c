"""premium entitlements

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 13:50:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    # Placeholder: filled in by the premium entitlements work.
    _ = (sa, op)


def downgrade() -> None:
    """Downgrade schema."""
