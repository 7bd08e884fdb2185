"""HTTP for the daemon, on Starlette: Twilio callbacks, one-click unsubscribes, health and metrics.

``app`` builds the app from one module per concern (``twilio`` with ``delivery_reports``, ``health``,
``unsubscribe``), ``limits`` bounds every request body, ``responses`` says how the endpoints answer,
and ``server`` runs the app with uvicorn inside the daemon's event loop. The collector console is
built on the same app.
"""
