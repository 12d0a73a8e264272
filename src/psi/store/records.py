"""Plain records the store hands out; no SQLAlchemy here, so fast readers can share them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

UNTITLED = "(empty)"


@dataclass(frozen=True)
class ConversationSummary:
    id: int
    title: str
    model_profile: str | None
    created_at: datetime
    updated_at: datetime
    message_count: int
