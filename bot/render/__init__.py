"""Rendering of outgoing content: sandboxed Jinja2 templates for e-mail, SMS and collector tasks."""
