"""Alembic migrations, applied automatically when psi opens its database.

HEAD names the newest revision so start-up can see the database is current
without importing Alembic; a test keeps it equal to Alembic's own head.
"""

HEAD = "0015"
