"""Reading the store for people and for monitoring; nothing here writes.

* :mod:`bot.reporting.receivables` — the receivables reports (``dunbot report aging|kpi``).
* :mod:`bot.reporting.operations` — the outbox, cycles and checkpoints as ``dunbot status``,
  ``/readyz`` and ``/metrics`` show them.
* :mod:`bot.reporting.visibility` — who may see which customer in the console (DESIGN §10); every
  console read model applies it.
* :mod:`bot.reporting.worklist` — the console's worklist: tasks and approvals ranked, filtered,
  counted, paged.
* :mod:`bot.reporting.customer_page` — the console's customer page and its paged timeline.
* :mod:`bot.reporting.dashboard` — the console dashboard's numbers, from receivables and operations.
"""
