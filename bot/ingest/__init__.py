"""Ledger ingest: CSV files and SQL sources -> validated rows -> one idempotent upsert per file."""
