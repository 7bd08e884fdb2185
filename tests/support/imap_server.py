"""A real IMAP server for tests: Debian's Dovecot (``dovecot-imapd``) on 127.0.0.1, TLS only.

One Dovecot runs per test session (starting one takes about a second); each test gets a mailbox of
its own with :meth:`ImapServer.new_user` (a static passdb: any user name, one password). The
server has two listeners: ``tls_port`` speaks TLS from the first byte (imaps), ``starttls_port``
plain IMAP that must upgrade with STARTTLS before it accepts a login (``ssl = required``). The
certificate for ``localhost`` and ``127.0.0.1`` is signed by a CA made at start-up; ``ca_file`` is
that CA, which the client must be told to trust (``[inbound] ca_file``).

Dovecot penalises failed logins from one address (anvil's auth penalty: a later failure from 127.0.0.1
answers after a few seconds), which is why the refused-login tests take longer than the others.

Dovecot runs in the foreground with a config of its own (no system service, no system paths); as root
its workers run as Debian's ``dovecot`` and ``dovenull`` users, otherwise as the user running the tests.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from imapclient import IMAPClient

DOVECOT = os.environ.get("DUNBOT_DOVECOT") or shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "s3cret-imap-password"


def dovecot_missing() -> str | None:
    """Why no IMAP test can run here, or None."""
    if not Path(DOVECOT).exists():
        return f"dovecot is not installed at {DOVECOT} (Debian/Ubuntu: apt install dovecot-imapd); CI installs it"
    if os.geteuid() == 0:
        for user in ("dovecot", "dovenull"):
            try:
                pwd.getpwnam(user)
            except KeyError:
                return f"the {user} user is missing (Debian's dovecot-core package creates it)"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for localhost and 127.0.0.1 that it signed: (ca, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dunbot test IMAP CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_key_pem(key))
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


_CONFIG = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{dir}/server.pem
ssl_key = <{dir}/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{dir}/mail/%u
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
first_valid_gid = 1
mail_max_userip_connections = 100
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  chroot =
  process_min_avail = 2
  inet_listener imap {{
    address = 127.0.0.1
    port = {starttls_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={dir}/mail/%u
}}
"""


@dataclass(frozen=True)
class Mailbox:
    """A test user's mailbox on the server."""

    host: str
    tls_port: int
    starttls_port: int
    ca_file: Path
    username: str
    password: str


class ImapServer:
    """Dovecot in the foreground, on two free ports, with a config, CA and mail store of its own."""

    def __init__(self) -> None:
        # Not pytest's tmp_path: its parents are 0700 and Dovecot's workers (another user) must get in.
        self.folder = Path(tempfile.mkdtemp(prefix="dunbot-dovecot-"))
        self.folder.chmod(0o755)
        self.tls_port = _free_port()
        self.starttls_port = _free_port()
        self.ca_file, _, _ = _certificates(self.folder)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> ImapServer:
        mail = self.folder / "mail"
        mail.mkdir()
        if os.geteuid() == 0:
            internal, login = "dovecot", "dovenull"
            mail_uid = mail_gid = "dovecot"
            shutil.chown(mail, "dovecot", "dovecot")
        else:
            me = pwd.getpwuid(os.geteuid())
            internal = login = me.pw_name
            mail_uid, mail_gid = str(os.geteuid()), str(os.getegid())
        config = self.folder / "dovecot.conf"
        config.write_text(
            _CONFIG.format(
                dir=self.folder,
                tls_port=self.tls_port,
                starttls_port=self.starttls_port,
                internal_user=internal,
                internal_group=internal,
                login_user=login,
                mail_uid=mail_uid,
                mail_gid=mail_gid,
                password=PASSWORD,
            )
        )
        with (self.folder / "dovecot.stderr").open("wb") as stderr:
            self._process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=stderr
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited at start:\n{self.log()}")
            if self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on 127.0.0.1:{self.tls_port}:\n{self.log()}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.tls_port), timeout=1) as raw:
                context = ssl.create_default_context(cafile=str(self.ca_file))
                with context.wrap_socket(raw, server_hostname="localhost") as secured:
                    return secured.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def log(self) -> str:
        parts = []
        for name in ("dovecot.stderr", "dovecot.log"):
            path = self.folder / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def new_user(self) -> Mailbox:
        """A user with an empty mailbox of its own (per-test isolation on the shared server): every
        user name logs in with :data:`PASSWORD`, and its maildir is made at the first login."""
        username = f"u{uuid.uuid4().hex[:10]}"
        return Mailbox(
            host="127.0.0.1",
            tls_port=self.tls_port,
            starttls_port=self.starttls_port,
            ca_file=self.ca_file,
            username=username,
            password=PASSWORD,
        )

    def client(self, mailbox: Mailbox) -> IMAPClient:
        """A logged-in client for the test's own look at the mailbox."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        client = IMAPClient("127.0.0.1", port=self.tls_port, ssl=True, ssl_context=context, timeout=30)
        client.login(mailbox.username, mailbox.password)
        return client

    def append(self, mailbox: Mailbox, *messages: bytes, folder: str = "INBOX") -> None:
        """Deliver raw RFC 5322 messages into ``folder`` with IMAP APPEND (created when missing)."""
        client = self.client(mailbox)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in messages:
                client.append(folder, raw)
        finally:
            client.logout()

    def uids(self, mailbox: Mailbox, folder: str) -> list[int]:
        """The UIDs in ``folder`` (empty when it does not exist)."""
        client = self.client(mailbox)
        try:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            return sorted(int(uid) for uid in client.search("ALL"))
        finally:
            client.logout()

    def messages(self, mailbox: Mailbox, folder: str) -> list[bytes]:
        """The raw bytes of every message in ``folder``, in UID order."""
        client = self.client(mailbox)
        try:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            fetched = client.fetch(client.search("ALL"), [b"BODY.PEEK[]"])
            return [fetched[uid][b"BODY[]"] for uid in sorted(fetched)]
        finally:
            client.logout()
