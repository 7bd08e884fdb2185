"""The pure core: frozen dataclasses in, decisions out. No SQL, network, clock or filesystem."""
