"""Evidence services the CLI calls."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from bot.evidence.artifacts import ArtifactStore
from bot.evidence.verify import VerificationReport, verify_log
from bot.store.engine import require_schema


def verify_database(engine: Engine, artifact_dir: Path | None) -> VerificationReport:
    """Verify every event in the database and every artifact the events name."""
    require_schema(engine)
    store = ArtifactStore(artifact_dir) if artifact_dir is not None else None
    with engine.connect() as connection:
        return verify_log(connection, store)
