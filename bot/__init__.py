"""dunbot: an automated dunning bot with a tamper-evident evidence log."""

__version__ = "0.1.0"
