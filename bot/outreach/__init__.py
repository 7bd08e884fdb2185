"""The outbox: planning into it, and (later) claiming, sending, recording and reconciling."""
