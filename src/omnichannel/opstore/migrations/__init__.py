"""Alembic environment and revisions of the operational store, run by ``opstore.migrate``."""
