"""A Twilio-compatible REST server on 127.0.0.1 for the channel tests.

It implements ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` and ``.../Calls.json`` with the
request and response shapes of Twilio's OpenAPI description (``twilio_api_v2010.json``): HTTP Basic auth
with the account SID and auth token, form-encoded parameters, ``201`` with a message or call resource,
errors as ``{"code", "message", "more_info", "status"}``.

Every request is recorded (headers, form, the ``X-Dunbot-Request-Key``) and a programmable fault queue
decides how the next requests fail, one fault per request, in order::

    server.push(("status", 500))              # HTTP 500 with a Twilio error body
    server.push(("twilio_error", 21610))      # HTTP 400, code 21610 (20429 defaults to HTTP 429)
    server.push(("twilio_error", 21211, 400)) # explicit HTTP status
    server.push(("drop",))                    # read the request, close the socket, never answer
    server.push(("delay", 2.0))               # wait, then handle the request normally
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.channels.twilio import REQUEST_KEY_HEADER, sms_segments

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0123456789abcdef"

_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>AC[0-9a-fA-F]{32})/(?P<resource>Messages|Calls)\.json$"
)
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")

Fault = tuple[Any, ...]

_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
    21205: "Url parameter is required.",
    21213: "Caller phone number is required",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it, and what it answered."""

    method: str
    path: str
    resource: str  # "Messages", "Calls" or "" for an unknown path
    headers: dict[str, str]
    form: dict[str, str]
    key: str | None  # the X-Dunbot-Request-Key header
    auth_ok: bool
    outcome: str = ""  # "accepted", "status:500", "twilio_error:21610", "drop", "unauthorized", ...
    sid: str | None = None
    form_lists: dict[str, list[str]] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.outcome == "accepted"


def _now() -> str:
    return formatdate(usegmt=False).replace("-0000", "+0000")


class TwilioServer:
    """The server; ``start()`` it (or use the ``twilio_server`` fixture), point ``api_base_url`` at ``url``."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.num_segments_override: str | None = None  # force the num_segments of message responses
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> TwilioServer:
        handler = type("_Handler", (_Handler,), {"twilio": self})
        httpd = _Server(("127.0.0.1", 0), handler)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="twilio-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- programming and inspection -------------------------------------------------------------------

    def push(self, *faults: Fault) -> None:
        """Queue faults; each following request consumes one, in order."""
        with self._lock:
            self._faults.extend(faults)

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def accepted(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.accepted]

    # -- resources ------------------------------------------------------------------------------------

    def _resource_uri(self, resource: str, sid: str) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/{resource}/{sid}.json"

    def message_resource(self, form: dict[str, str]) -> dict[str, Any]:
        sid = "SM" + uuid.uuid4().hex
        service = form.get("MessagingServiceSid")
        body = form.get("Body", "")
        # Twilio answers num_segments "0" while a Messaging Service has not picked a sender yet.
        num_segments = "0" if service else str(sms_segments(body)[0])
        if self.num_segments_override is not None:
            num_segments = self.num_segments_override
        now = _now()
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": None if service else form.get("From"),
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": num_segments,
            "price": None,
            "price_unit": None,
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {
                "media": self._resource_uri("Messages", sid).replace(".json", "/Media.json")
            },
            "to": form.get("To"),
            "uri": self._resource_uri("Messages", sid),
        }

    def call_resource(self, form: dict[str, str]) -> dict[str, Any]:
        sid = "CA" + uuid.uuid4().hex
        now = _now()
        return {
            "account_sid": self.account_sid,
            "answered_by": None,
            "api_version": "2010-04-01",
            "caller_name": None,
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": form.get("From"),
            "from_formatted": form.get("From"),
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": "PN" + uuid.uuid4().hex,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {},
            "to": form.get("To"),
            "to_formatted": form.get("To"),
            "trunk_sid": None,
            "uri": self._resource_uri("Calls", sid),
        }

    def validate(self, resource: str, form: dict[str, str]) -> int | None:
        """The Twilio error code a real account would answer for these parameters, or None."""
        to = form.get("To", "")
        if resource == "Messages":
            if not form.get("From") and not form.get("MessagingServiceSid"):
                return 21603
            if not form.get("Body") and not form.get("MediaUrl") and not form.get("ContentSid"):
                return 21602
        else:
            if not form.get("From"):
                return 21213
            if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
                return 21205
        if not _E164.match(to):
            return 21211
        return None


def error_body(code: int, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": _MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet for clients that hang up (timeout and drop tests); loud for anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    # TCP_NODELAY, as a real API front end has: the headers and the body of a reply go out in two
    # writes, and with Nagle's algorithm on the second waits for the client's delayed ACK (40 ms on
    # Linux) on every request of a kept-alive connection.
    disable_nagle_algorithm = True
    twilio: TwilioServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests inspect ``TwilioServer.requests`` instead."""

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Twilio-Request-Id", "RQ" + uuid.uuid4().hex)
        self.end_headers()
        self.wfile.write(body)

    def _auth_ok(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.twilio.account_sid and password == self.twilio.auth_token

    def do_GET(self) -> None:
        # GET /2010-04-01/Accounts/{sid}.json: the account fetch `dunbot check-config --connect` makes.
        path = urlsplit(self.path).path
        if path == f"/2010-04-01/Accounts/{self.twilio.account_sid}.json":
            if not self._auth_ok():
                self._reply(401, error_body(20003, 401))
                return
            self._reply(
                200,
                {"sid": self.twilio.account_sid, "friendly_name": "dunbot test account", "status": "active"},
            )
            return
        self._reply(404, error_body(20404, 404))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        lists = parse_qs(raw, keep_blank_values=True)
        form = {name: values[-1] for name, values in lists.items()}
        path = urlsplit(self.path).path
        match = _PATH.match(path)
        auth_ok = self._auth_ok()
        record = dict(
            method="POST",
            path=self.path,
            resource=match["resource"] if match else "",
            headers={k: v for k, v in self.headers.items() if k.lower() != "authorization"},
            form=form,
            form_lists=lists,
            key=self.headers.get(REQUEST_KEY_HEADER),
            auth_ok=auth_ok,
        )
        if not auth_ok:
            self.twilio._record(RecordedRequest(**record, outcome="unauthorized"))
            self._reply(401, error_body(20003, 401))
            return
        if match is None or match["account"] != self.twilio.account_sid:
            self.twilio._record(RecordedRequest(**record, outcome="not_found"))
            self._reply(404, error_body(20404, 404))
            return
        fault = self.twilio._next_fault()
        if fault is not None:
            kind = fault[0]
            if kind == "delay":
                time.sleep(float(fault[1]))
            elif kind == "drop":
                self.twilio._record(RecordedRequest(**record, outcome="drop"))
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            elif kind == "status":
                status = int(fault[1])
                self.twilio._record(RecordedRequest(**record, outcome=f"status:{status}"))
                self._reply(status, error_body(20000 + status if status >= 500 else status, status))
                return
            elif kind == "twilio_error":
                code = int(fault[1])
                status = int(fault[2]) if len(fault) > 2 else (429 if code == 20429 else 400)
                self.twilio._record(RecordedRequest(**record, outcome=f"twilio_error:{code}"))
                self._reply(status, error_body(code, status))
                return
            else:
                raise ValueError(f"unknown fault {fault!r}")
        resource = match["resource"]
        problem = self.twilio.validate(resource, form)
        if problem is not None:
            self.twilio._record(RecordedRequest(**record, outcome=f"invalid:{problem}"))
            self._reply(400, error_body(problem, 400))
            return
        payload = (
            self.twilio.message_resource(form) if resource == "Messages" else self.twilio.call_resource(form)
        )
        self.twilio._record(RecordedRequest(**record, outcome="accepted", sid=payload["sid"]))
        try:
            self._reply(201, payload)
        except OSError:  # the client gave up (a timeout test); it was accepted all the same
            self.close_connection = True
