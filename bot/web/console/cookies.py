"""The console's two cookies, signed with itsdangerous: the session token, and the login form's
CSRF nonce (before login there is no session to hold the token)."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.responses import Response

SESSION_COOKIE = "dunbot_session"
LOGIN_COOKIE = "dunbot_login"


class Signer:
    """Signs and reads one cookie kind; a cookie of another kind or another secret reads as None."""

    def __init__(self, secret: str, kind: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt=f"dunbot.console.{kind}")

    def sign(self, value: str) -> str:
        return str(self._serializer.dumps(value))

    def read(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            value = self._serializer.loads(cookie)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None


def set_cookie(response: Response, name: str, value: str, *, secure: bool) -> None:
    """HttpOnly, SameSite=Lax, Secure behind TLS, for the whole site, ending with the browser."""
    response.set_cookie(name, value, path="/", httponly=True, samesite="lax", secure=secure)


def drop_cookie(response: Response, name: str, *, secure: bool) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=secure)
