"""Storage: SQLAlchemy 2 + Alembic; SQLite (WAL) by default, any SQLAlchemy URL accepted.

Import from the modules (`psi.store.db`, `psi.store.conversations`): this
package imports nothing itself, so `psi.store.quickread` can load without
SQLAlchemy.
"""
