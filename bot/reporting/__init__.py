"""Reading the store for people and for monitoring; nothing here writes.

* :mod:`bot.reporting.receivables` — the receivables reports (``dunbot report aging|kpi``).
* :mod:`bot.reporting.operations` — the outbox, cycles and checkpoints as ``dunbot status``,
  ``/readyz`` and ``/metrics`` show them.
* :mod:`bot.reporting.dashboard` — the console dashboard's numbers, from the two above.
"""
