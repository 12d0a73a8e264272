"""Storage: SQLAlchemy 2 + Alembic; SQLite (WAL) by default, any SQLAlchemy URL accepted."""

from psi.store.conversations import Conversations, ConversationSummary, StoredMessage
from psi.store.db import Store, open_store

__all__ = ["ConversationSummary", "Conversations", "Store", "StoredMessage", "open_store"]
