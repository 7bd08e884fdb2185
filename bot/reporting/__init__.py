"""Reading the store for people and for monitoring; nothing here writes.

* :mod:`bot.reporting.receivables` — the receivables reports (``dunbot report aging|kpi``).
* :mod:`bot.reporting.operations` — the outbox, cycles and checkpoints as ``dunbot status``,
  ``/readyz`` and ``/metrics`` show them.
"""
