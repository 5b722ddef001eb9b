"""Persistence: SQLAlchemy models, the Repository protocol and its implementations."""
