"""The evidence log: append-only events, a hash chain, artifacts and verification (DESIGN §6)."""
