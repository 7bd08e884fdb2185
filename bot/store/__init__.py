"""Persistence: SQLModel tables, the engine, Alembic migrations and queries into domain snapshots."""
