"""Alembic environment and revisions of the broker's schema (run via :mod:`..migrate`)."""
