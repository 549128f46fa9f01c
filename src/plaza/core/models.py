"""Tables owned by the core: node-id leases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from plaza.core.db import Base, UTCDateTime


class NodeLease(Base):
    """Which process holds which Snowflake node id, until when."""

    __tablename__ = "core_node_lease"

    node_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
from plaza.core.idempotency import IdempotencyKey as IdempotencyKey  # noqa: E402
