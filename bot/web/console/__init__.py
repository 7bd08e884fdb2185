"""The collector console (DESIGN §10): login, sessions, CSRF, security headers and the pages.

``settings`` is what the console is made with (:class:`ConsoleConfig`), ``cookies`` signs the
cookies, ``guard`` is the middleware that every request passes (session, login rule, CSRF, headers),
``i18n`` reads the zh-CN and en catalogs with Babel and formats dates and amounts, ``pages`` are the
routes. Templates and CSS live in ``bot/web/templates`` and ``bot/web/static``, inside the package.
"""
