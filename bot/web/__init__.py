"""HTTP for the daemon: Twilio status callbacks and a health check (the collector console later)."""
