"""Delta Chat core as a real third-party peer for coi-bridge's end-to-end tests.

Drives `deltachat-rpc-server` (Delta Chat core's JSON-RPC server, a static binary from the PyPI
wheel `deltachat-rpc-server`) over stdio, through the transport class `Rpc` of the official
client library `deltachat-rpc-client`. The API here is synchronous and made for tests: every
wait has a timeout and raises `DcTimeout` (an AssertionError) with what was seen instead.

Typical use (conftest.py gives the fixtures `stack`, `dc` and `make_account`):

    alice = dc.make_account("alice@example.org", "alicepw", displayname="Alice")
    bob = dc.make_account("bob@example.org", "bobpw", displayname="Bob")
    mid = alice.send_text(alice.chat_with("bob@example.org"), "hello")
    got = bob.wait_for_message(text="hello")          # -> Msg: text, sender_addr, sender_name, quote...

What Delta Chat core (2.65.0) needs to work against the local test stack (scripts/stack):

* `force_encryption` = "0" (config key; default "1" since core 2.50). With "1" Delta Chat sends
  nothing unencrypted and silently drops every incoming unencrypted mail.
* Login through `add_or_update_transport` (the replacement for the deprecated `configure`)
  with explicit servers, ports and security (`StackEnv.login_params`):
    - "plain":    IMAP STACK_IMAP_PORT + SMTP STACK_SMTP_PORT on STACK_HOST, no TLS. Nothing
                  else needed (the stack offers AUTH without TLS on loopback). The default.
    - "starttls": IMAP STACK_IMAP_PORT + submission STACK_SUBMISSION_PORT, both STARTTLS.
    - "ssl":      IMAPS STACK_IMAPS_PORT + submissions STACK_SUBMISSIONS_PORT, implicit TLS.
  Both TLS modes need `certificateChecks` = "acceptInvalidCertificates" (the old config key
  `imap_certificate_checks` = "3"). Delta Chat verifies against its own built-in roots and
  ignores SSL_CERT_FILE, so the stack's CA (STACK_CA_FILE) cannot be trusted: "strict" and
  "automatic" fail with host name localhost or 127.0.0.1 alike, with the generic "Could not
  find your mail server" error; the reason ("invalid peer certificate: UnknownIssuer") is only
  in the account's Warning events, which `make_account` puts into its error.
* A new account ignores what is already in INBOX when it first selects it, so a message that
  arrives between configure and that first SELECT is never shown. `make_account` therefore
  returns only after the account's first IMAP IDLE (event ImapInboxIdle).
* `mdns_enabled` (default "1") is the read-receipt switch: with it `markseen_msgs` sends an MDN
  for a message that asked for one (`Chat-Disposition-Notification-To` = its From), in an
  accepted chat only. In core 2.65.0 this happens only for encrypted messages (see below).
* A first message from an unknown sender lands in a contact request (`chat_info(...)
  ["isContactRequest"]`); `accept_chat` accepts it. A chat we created (`chat_with`) is accepted.

Minimal email Delta Chat shows as a *chat* message (see `build_chat_email`): From,
`Chat-Version: 1.0`, and for non-ASCII text `MIME-Version: 1.0` + `Content-Type: text/plain;
charset=utf-8`; add Message-ID, Date and To so it can be referred to, dated and threaded.

What does not work without encryption in core 2.65.0 (the bridge must expect it):
* Read receipts: core >= 2.63 neither requests (`Chat-Disposition-Notification-To`) nor sends
  MDNs for unencrypted messages (2.62.0 still did; this module drives it unchanged, from
  `scripts/e2e-venv --dc-version 2.62.0 --venv .cache/e2e-venv-dc262`). It does *apply* an
  unencrypted MDN it receives for its own message (`wait_read`).
* Edits: `send_edit_request` goes out (`Chat-Edit` in the top-level header), but a Delta Chat
  receiver shows it as a new message "✏️<new text>" quoting the original instead of changing
  it. An edit with `Chat-Edit` in the first part of a multipart/mixed (the legacy place, which
  coi-bridge writes too) is applied, by 2.62.0 as well.
* Delete for everyone: refused by the sender ("Cannot request deletion of unencrypted message
  for others"), and an unencrypted `Chat-Delete` is ignored wherever it is (by 2.62.0 as well).
* Unencrypted groups are ad-hoc groups: no Chat-Group-ID, only Chat-Group-Name.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import email.utils
import os
import queue
import shutil
import smtplib
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Union

from deltachat_rpc_client.rpc import JsonRpcError, Rpc

__all__ = [
    "DcTimeout",
    "StackEnv",
    "DeltaChatServer",
    "DcAccount",
    "Msg",
    "build_chat_email",
    "build_reaction_email",
    "build_mdn_email",
    "send_raw_email",
    "maildir_messages",
    "RawMail",
    "find_raw_mail",
    "find_rpc_server_binary",
    "JsonRpcError",
]

# Message states (chatmail/core src/message.rs MessageState).
STATE_IN_FRESH = 10
STATE_IN_NOTICED = 13
STATE_IN_SEEN = 16
STATE_OUT_PENDING = 20
STATE_OUT_FAILED = 24
STATE_OUT_DELIVERED = 26
STATE_OUT_MDN_RCVD = 28

CONTACT_ID_SELF = 1
CONTACT_ID_INFO = 2
CONTACT_ID_DEVICE = 5

DEFAULT_TIMEOUT = float(os.environ.get("DCPEER_TIMEOUT", "30"))


class DcTimeout(AssertionError):
    """A wait ran out of time. The message says what was waited for and what was seen."""


class StackEnvMissing(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------
# The mail stack


@dataclass(frozen=True)
class StackEnv:
    """The test mail stack, as described by the STACK_* variables of `scripts/stack up DIR`
    (DIR/env.sh)."""

    dir: Path
    imap_port: int
    imaps_port: int
    smtp_port: int
    submission_port: int
    ca_file: Path
    domain: str
    host: str = "127.0.0.1"
    mail_dir: Optional[Path] = None  # STACK_MAIL_DIR, default STACK_DIR/mail
    tls_name: str = "localhost"  # the host name the servers' certificate is valid for
    submissions_port: Optional[int] = None  # STACK_SUBMISSIONS_PORT (implicit TLS), optional

    REQUIRED = (
        "STACK_DIR",
        "STACK_IMAP_PORT",
        "STACK_IMAPS_PORT",
        "STACK_SMTP_PORT",
        "STACK_SUBMISSION_PORT",
        "STACK_CA_FILE",
        "STACK_DOMAIN",
    )

    @classmethod
    def from_env(cls, env: Optional[dict] = None) -> "StackEnv":
        env = os.environ if env is None else env
        missing = [k for k in cls.REQUIRED if not env.get(k)]
        if missing:
            raise StackEnvMissing(
                "the Delta Chat e2e tests need the mail stack, but "
                + ", ".join(missing)
                + " are not set. Start it and load its variables first:\n"
                "  scripts/stack up DIR && . DIR/env.sh"
            )
        return cls(
            dir=Path(env["STACK_DIR"]),
            imap_port=int(env["STACK_IMAP_PORT"]),
            imaps_port=int(env["STACK_IMAPS_PORT"]),
            smtp_port=int(env["STACK_SMTP_PORT"]),
            submission_port=int(env["STACK_SUBMISSION_PORT"]),
            ca_file=Path(env["STACK_CA_FILE"]),
            domain=env["STACK_DOMAIN"],
            host=env.get("STACK_HOST") or "127.0.0.1",
            mail_dir=Path(env["STACK_MAIL_DIR"]) if env.get("STACK_MAIL_DIR") else None,
            tls_name=env.get("STACK_TLS_NAME") or "localhost",
            submissions_port=int(env["STACK_SUBMISSIONS_PORT"]) if env.get("STACK_SUBMISSIONS_PORT") else None,
        )

    def addr(self, user: str) -> str:
        return user if "@" in user else f"{user}@{self.domain}"

    def login_params(self, addr: str, password: str, security: str = "plain", *,
                     certificate_checks: Optional[str] = None, server: Optional[str] = None) -> dict:
        """`EnteredLoginParam` for add_or_update_transport, for one of the ways the stack can be
        reached (see the module docstring):
          "plain":    IMAP STACK_IMAP_PORT + SMTP STACK_SMTP_PORT, no TLS
          "starttls": IMAP STACK_IMAP_PORT + SMTP STACK_SUBMISSION_PORT, both STARTTLS
          "ssl":      IMAPS STACK_IMAPS_PORT + STACK_SUBMISSIONS_PORT, implicit TLS (or
                      STARTTLS on STACK_SUBMISSION_PORT when the stack has no submissions port)
        certificate_checks defaults to "acceptInvalidCertificates" for the TLS modes; server
        defaults to STACK_HOST for plain and STACK_TLS_NAME (the certificate's name) for TLS."""
        if security == "plain":
            imap = (self.imap_port, "plain")
            smtp = (self.smtp_port, "plain")
        elif security == "starttls":
            imap = (self.imap_port, "starttls")
            smtp = (self.submission_port, "starttls")
        elif security == "ssl":
            imap = (self.imaps_port, "ssl")
            smtp = (self.submissions_port, "ssl") if self.submissions_port else (self.submission_port, "starttls")
        else:
            raise ValueError(f"security must be plain, starttls or ssl, not {security!r}")
        host = server or (self.host if security == "plain" else self.tls_name)
        params = {
            "addr": addr,
            "password": password,
            "imapServer": host,
            "imapPort": imap[0],
            "imapSecurity": imap[1],
            "imapUser": addr,
            "smtpServer": host,
            "smtpPort": smtp[0],
            "smtpSecurity": smtp[1],
            "smtpUser": addr,
        }
        if security != "plain" or certificate_checks:
            params["certificateChecks"] = certificate_checks or "acceptInvalidCertificates"
        return params


# --------------------------------------------------------------------------------------------
# Raw mail: injecting and reading


def build_chat_email(
    from_addr: str,
    to: Union[str, Iterable[str]],
    text: str,
    *,
    from_name: Optional[str] = None,
    subject: Optional[str] = None,
    message_id: Optional[str] = None,
    in_reply_to: Optional[str] = None,
    references: Optional[str] = None,
    sender: Optional[str] = None,
    chat_version: bool = True,
    date: Optional[str] = None,
    extra_headers: Optional[dict] = None,
) -> EmailMessage:
    """A plain (unencrypted) chat email as a non-Delta-Chat sender like the bridge would send it.

    What Delta Chat core 2.65.0 (force_encryption=0) needs, measured by delivering variants
    straight over LMTP (no MTA adding headers) and through Postfix:

      From: "Carol" <carol@example.org>   the only header strictly needed; its display name
                                           becomes the contact's name (else the address)
      Chat-Version: 1.0                   makes it a chat message: the text is the body alone
                                           (without it, a Subject is shown as "Subject – body")
      MIME-Version: 1.0 + Content-Type: text/plain; charset="utf-8"
                                           needed for non-ASCII text: without a charset UTF-8
                                           shows as mojibake ("âœ“" for "✓")
      Message-ID: <...@example.org>       optional for display (Delta Chat invents "GEN_..."),
                                           needed for anything that refers to the message:
                                           replies, reactions, read receipts, edits
      Date:                               optional (receipt time is used); set it anyway
      To: <alice@example.org>             optional for display; decides 1:1 vs group

    The minimal set used by the bridge path (this function's default, checked by
    test_deltachat_smoke.py): From, To, Date, Message-ID, Chat-Version, MIME-Version,
    Content-Type text/plain utf-8 with 8bit transfer encoding (Postfix advertises 8BITMIME).
    Subject may be empty or absent: Delta Chat does not show it for Chat-Version mail.
    (Through Postfix on the stack a missing Message-ID or Date is added by Postfix itself.)

    Optional and useful:
      In-Reply-To / References: <parent>  threads it into the parent's chat; Delta Chat shows a
                                           quote when the body starts with a "> " quote block
      Sender: <bridge addr>  with  From: "Remote Name" <bridge addr>
                                           Delta Chat shows "Remote Name" for this message only
                                           (Message.overrideSenderName), the contact keeps its name
      Chat-Disposition-Notification-To: <from addr>
                                           asks for a read receipt; core >= 2.63 never sends
                                           receipts for unencrypted mail, so it has no effect
      Chat-Group-Name: <name>             to several recipients: an ad-hoc group

    Set chat_version=False to see the classic-email rendering ("Subject – body").
    """
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = email.utils.formataddr((from_name, from_addr)) if from_name else f"<{from_addr}>"
    tos = [to] if isinstance(to, str) else list(to)
    msg["To"] = ", ".join(f"<{t}>" for t in tos)
    if subject is not None:
        msg["Subject"] = subject
    msg["Date"] = date or email.utils.formatdate(localtime=False)
    domain = from_addr.rsplit("@", 1)[-1]
    msg["Message-ID"] = message_id or f"<{uuid.uuid4()}@{domain}>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = references or in_reply_to
    elif references:
        msg["References"] = references
    if sender:
        msg["Sender"] = sender
    if chat_version:
        msg["Chat-Version"] = "1.0"
    for k, v in (extra_headers or {}).items():
        msg[k] = v
    msg.set_content(text, subtype="plain", charset="utf-8", cte="8bit")
    return msg


def build_reaction_email(from_addr: str, to: str, target_message_id: str, emoji: str, *,
                         from_name: Optional[str] = None, sender: Optional[str] = None) -> EmailMessage:
    """An RFC 9078 reaction as Delta Chat sends and accepts it: a chat message whose text/plain
    body is the emoji, with `Content-Disposition: reaction` and In-Reply-To the target."""
    msg = build_chat_email(from_addr, to, emoji, from_name=from_name, in_reply_to=target_message_id,
                           sender=sender)
    msg["Content-Disposition"] = "reaction"
    return msg


def build_mdn_email(from_addr: str, to: str, original_message_id: str) -> bytes:
    """A read receipt (RFC 8098 MDN, displayed) in the form Delta Chat sends and accepts."""
    boundary = uuid.uuid4().hex
    domain = from_addr.rsplit("@", 1)[-1]
    lines = [
        f"From: <{from_addr}>",
        f"To: <{to}>",
        "Subject: Receipt Notification",
        f"Date: {email.utils.formatdate()}",
        f"Message-ID: <{uuid.uuid4()}@{domain}>",
        "Chat-Version: 1.0",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=disposition-notification; boundary="{boundary}"',
        "",
        f"--{boundary}",
        'Content-Type: text/plain; charset="utf-8"',
        "",
        "This is a receipt notification.",
        f"--{boundary}",
        "Content-Type: message/disposition-notification",
        "",
        f"Original-Recipient: rfc822;{from_addr}",
        f"Final-Recipient: rfc822;{from_addr}",
        f"Original-Message-ID: {original_message_id}",
        "Disposition: manual-action/MDN-sent-automatically; displayed",
        "",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode()


def send_raw_email(
    stack: StackEnv,
    msg: Union[EmailMessage, bytes, str],
    *,
    mail_from: Optional[str] = None,
    rcpt_to: Optional[Iterable[str]] = None,
    port: Optional[int] = None,
    login: Optional[tuple] = None,
) -> None:
    """Hands a raw email to the stack's SMTP server (STACK_SMTP_PORT, unauthenticated: loopback is
    a trusted network there, like an MX accepting mail for its domain). With bytes, give
    mail_from and rcpt_to."""
    with smtplib.SMTP(stack.host, port or stack.smtp_port, timeout=30) as s:
        if login:
            s.login(*login)
        if isinstance(msg, EmailMessage):
            s.send_message(msg, from_addr=mail_from, to_addrs=list(rcpt_to) if rcpt_to else None)
        else:
            data = msg.encode() if isinstance(msg, str) else msg
            if not (mail_from and rcpt_to):
                raise ValueError("raw bytes need mail_from and rcpt_to")
            s.sendmail(mail_from, list(rcpt_to), data)


def maildir_path(stack: StackEnv, user: str, folder: str = "INBOX") -> Path:
    """The Maildir of a stack user: STACK_MAIL_DIR/<name>/Maildir (scripts/stack names it by the
    bare user name; a directory named by the full address is found too)."""
    base = stack.mail_dir or (stack.dir / "mail")
    name = user.split("@")[0].lower()
    for cand in (name, stack.addr(user).lower()):
        d = base / cand / "Maildir"
        if d.is_dir():
            break
    else:
        d = base / name / "Maildir"
    return d if folder == "INBOX" else d / f".{folder.replace('/', '.')}"


@dataclass
class RawMail:
    """One delivered mail file. `msg` is parsed for convenience (email.policy.default); use
    `text` or `data` to see the bytes exactly as delivered (re-serialising `msg` re-folds
    headers)."""

    path: Path
    data: bytes
    msg: EmailMessage = field(repr=False)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    def __getitem__(self, name: str):
        return self.msg[name]

    def get(self, name: str, default=None):
        return self.msg.get(name, default)

    def header_block(self) -> str:
        """The raw header section, unfolded only as far as the file has it."""
        return self.text.replace("\r\n", "\n").split("\n\n", 1)[0]

    def body_text(self) -> str:
        """The first text/plain part, decoded."""
        part = self.msg.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


def maildir_messages(stack: StackEnv, user: str, folder: str = "INBOX") -> list:
    """All messages in a user's Maildir folder as RawMail, oldest first (by delivery file
    name). For debugging and for asserting on the wire format."""
    d = maildir_path(stack, user, folder)
    files = []
    for sub in ("cur", "new"):
        p = d / sub
        if p.is_dir():
            files.extend(f for f in p.iterdir() if f.is_file())
    files.sort(key=lambda f: (f.name.split(".", 1)[0], f.name))
    out = []
    for f in files:
        try:
            data = f.read_bytes()
        except FileNotFoundError:  # moved between new/ and cur/ meanwhile
            continue
        out.append(RawMail(f, data, email.message_from_bytes(data, policy=email.policy.default)))
    return out


def find_raw_mail(
    stack: StackEnv,
    user: str,
    *,
    message_id: Optional[str] = None,
    header: Optional[tuple] = None,
    contains: Optional[Union[str, bytes]] = None,
    folder: str = "INBOX",
    timeout: float = 10.0,
) -> RawMail:
    """Waits until a mail matching all given criteria is in the user's Maildir and returns the
    newest such. message_id: with or without <>; header: (name, substring of its value);
    contains: substring of the raw bytes (a str is UTF-8 encoded)."""
    if message_id and not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    needle = contains.encode() if isinstance(contains, str) else contains
    deadline = time.monotonic() + timeout
    while True:
        for m in reversed(maildir_messages(stack, user, folder)):
            if message_id and (m.get("Message-ID") or "").strip() != message_id:
                continue
            if header and header[1] not in str(m.get(header[0]) or ""):
                continue
            if needle and needle not in m.data:
                continue
            return m
        if time.monotonic() > deadline:
            raise DcTimeout(
                f"no mail in {maildir_path(stack, user, folder)} with message_id={message_id} "
                f"header={header} contains={contains!r} after {timeout}s"
            )
        time.sleep(0.1)


# --------------------------------------------------------------------------------------------
# Messages


@dataclass
class Msg:
    """A Delta Chat message as the tests need it. `raw` is the full JSON-RPC `Message` object."""

    id: int
    chat_id: int
    text: str
    subject: str
    from_id: int
    sender_addr: str
    sender_name: str  # the contact's display name (name given locally, else the From name)
    override_sender_name: Optional[str]  # per-message name (From name with a Sender header)
    quote_text: Optional[str]
    quote_msg_id: Optional[int]
    quote_author: Optional[str]
    view_type: str
    file: Optional[str]
    file_name: Optional[str]
    file_mime: Optional[str]
    is_info: bool
    is_edited: bool
    padlock: bool
    state: int
    reactions: dict  # emoji -> count
    raw: dict = field(repr=False)

    @property
    def shown_name(self) -> str:
        """The name a Delta Chat user sees next to the message."""
        return self.override_sender_name or self.sender_name

    @property
    def incoming(self) -> bool:
        return self.from_id != CONTACT_ID_SELF

    def file_bytes(self) -> bytes:
        if not self.file:
            raise AssertionError(f"message {self.id} has no file: {self.raw}")
        return Path(self.file).read_bytes()

    @classmethod
    def from_rpc(cls, m: dict) -> "Msg":
        sender = m.get("sender") or {}
        quote = m.get("quote") or None
        reactions = {}
        if m.get("reactions"):
            reactions = {r["emoji"]: r["count"] for r in m["reactions"]["reactions"]}
        return cls(
            id=m["id"],
            chat_id=m["chatId"],
            text=m.get("text") or "",
            subject=m.get("subject") or "",
            from_id=m["fromId"],
            sender_addr=sender.get("address", ""),
            sender_name=sender.get("displayName", ""),
            override_sender_name=m.get("overrideSenderName"),
            quote_text=quote.get("text") if quote else None,
            quote_msg_id=quote.get("messageId") if quote else None,
            quote_author=quote.get("overrideSenderName") or quote.get("authorDisplayName") if quote else None,
            view_type=m.get("viewType", ""),
            file=m.get("file"),
            file_name=m.get("fileName"),
            file_mime=m.get("fileMime"),
            is_info=bool(m.get("isInfo")),
            is_edited=bool(m.get("isEdited")),
            padlock=bool(m.get("showPadlock")),
            state=m.get("state", 0),
            reactions=reactions,
            raw=m,
        )


# --------------------------------------------------------------------------------------------
# The server and the accounts


def find_rpc_server_binary() -> str:
    """The deltachat-rpc-server binary: $DC_RPC_SERVER, else the one inside the
    deltachat_rpc_server package of this Python (the e2e venv)."""
    explicit = os.environ.get("DC_RPC_SERVER")
    if explicit:
        return explicit
    try:
        import deltachat_rpc_server
    except ImportError as e:
        raise RuntimeError(
            "deltachat_rpc_server is not installed in this Python; run scripts/e2e-venv and use "
            ".cache/e2e-venv/bin/python"
        ) from e
    p = Path(deltachat_rpc_server.__file__).parent / "deltachat-rpc-server"
    if not os.access(p, os.X_OK):
        raise RuntimeError(f"{p} is missing or not executable")
    return str(p)


class _LoggingQueue(queue.Queue):
    """The per-account event queue of Rpc, also writing the account's log events (Info, Warning,
    Error: that is where Delta Chat core explains configure and network failures) to a file."""

    def __init__(self, acc_id: int, log):
        super().__init__()
        self._prefix = f"[account {acc_id}] ".encode()
        self._log = log

    def put(self, item, block=True, timeout=None):
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind in ("Info", "Warning", "Error", "ErrorSelfNotInGroup"):
            line = f"{time.strftime('%H:%M:%S')} {kind}: {item.get('msg')}\n".encode(errors="replace")
        else:
            line = f"{time.strftime('%H:%M:%S')} event {item}\n".encode(errors="replace")
        try:
            self._log.write(self._prefix + line)
            self._log.flush()
        except ValueError:  # log closed at shutdown
            pass
        super().put(item, block, timeout)


class DeltaChatServer:
    """One deltachat-rpc-server process (one per test session) holding any number of accounts.
    Its log (RUST_LOG=info) goes to `log_path`: configure failures are explained only there."""

    def __init__(self, stack: StackEnv, workdir: Union[str, Path], binary: Optional[str] = None):
        self.stack = stack
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.accounts_dir = self.workdir / "accounts"
        self.log_path = self.workdir / "deltachat-rpc-server.log"
        self.binary = binary or find_rpc_server_binary()
        self._log = open(self.log_path, "ab", buffering=0)
        env = dict(os.environ, RUST_LOG=os.environ.get("DCPEER_RUST_LOG", "info"))
        self.rpc = Rpc(
            accounts_dir=str(self.accounts_dir),
            rpc_server_path=self.binary,
            env=env,
            stderr=self._log,
        )
        t0 = time.monotonic()
        self.rpc.start()
        self.start_seconds = time.monotonic() - t0
        self.version = self.rpc.get_system_info().get("deltachat_core_version", "?")
        self.accounts: list[DcAccount] = []

    def make_account(
        self,
        addr: str,
        password: str,
        displayname: Optional[str] = None,
        *,
        security: str = "plain",
        certificate_checks: Optional[str] = None,
        server: Optional[str] = None,
        force_encryption: bool = False,
        mdns_enabled: bool = True,
        config: Optional[dict] = None,
        start_io: bool = True,
    ) -> "DcAccount":
        """A new Delta Chat account for addr, configured against the stack and, with start_io,
        online: it returns once the account idles on INBOX, so every mail delivered after
        this call is seen. `configure_seconds` on the result is how long
        add_or_update_transport took, `ready_seconds` how long until IDLE."""
        addr = self.stack.addr(addr)
        acc_id = self.rpc.add_account()
        old = self.rpc.event_queues.get(acc_id)
        self.rpc.event_queues[acc_id] = _LoggingQueue(acc_id, self._log)
        while old is not None and not old.empty():
            self.rpc.event_queues[acc_id].put(old.get_nowait())
        cfg = {
            "force_encryption": "1" if force_encryption else "0",
            "mdns_enabled": "1" if mdns_enabled else "0",
        }
        if displayname is not None:
            cfg["displayname"] = displayname
        cfg.update(config or {})
        self.rpc.batch_set_config(acc_id, cfg)
        params = self.stack.login_params(addr, password, security,
                                         certificate_checks=certificate_checks, server=server)
        t0 = time.monotonic()
        try:
            self.rpc.add_or_update_transport(acc_id, params)
        except JsonRpcError as e:
            # The error is generic ("Could not find your mail server"); the account's Warning
            # events say why (e.g. "invalid peer certificate: UnknownIssuer").
            q = self.rpc.event_queues[acc_id]
            why = []
            while not q.empty():
                ev = q.get_nowait()
                if ev.get("kind") in ("Warning", "Error"):
                    why.append(ev.get("msg", ""))
            raise AssertionError(
                f"configuring {addr} ({security}) failed: {e}\n  warnings: "
                + "\n    ".join(why[-4:]) + f"\n  full log: {self.log_path}"
            ) from None
        configure_seconds = time.monotonic() - t0
        acc = DcAccount(self, acc_id, addr, password, displayname, configure_seconds)
        if start_io:
            acc.start_io()
            # A new account does not download what is already in INBOX when it first selects
            # it: anything that arrives before that is never shown. So wait until it idles.
            acc.wait_event("ImapInboxIdle", timeout=DEFAULT_TIMEOUT)
            acc.ready_seconds = time.monotonic() - t0
        self.accounts.append(acc)
        return acc

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def close(self) -> None:
        """Stops all accounts and the server. Bounded: if the client library's orderly shutdown
        hangs (it waits for one more event), the process is terminated."""
        import threading

        closer = threading.Thread(target=self.rpc.close, daemon=True)
        closer.start()
        closer.join(15)
        proc = self.rpc.process
        if closer.is_alive() or proc.poll() is None:
            try:
                proc.wait(timeout=5)
            except Exception:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except Exception:
                    proc.kill()
                    proc.wait(timeout=5)
            closer.join(5)
        self._log.close()


class DcAccount:
    """One Delta Chat account (one profile) inside a DeltaChatServer."""

    def __init__(self, server: DeltaChatServer, acc_id: int, addr: str, password: str,
                 displayname: Optional[str], configure_seconds: float):
        self.server = server
        self.rpc = server.rpc
        self.id = acc_id
        self.addr = addr
        self.password = password
        self.displayname = displayname
        self.configure_seconds = configure_seconds  # add_or_update_transport alone
        self.ready_seconds: Optional[float] = None  # configure + start_io until IMAP IDLE
        self.events: list[dict] = []  # every event seen so far, in order
        self._queue = self.rpc.get_queue(acc_id)
        self._consumed: set[int] = set()  # incoming message ids returned by wait_for_message
        self._not_incoming: set[int] = set()  # own and info messages: never candidates

    def __repr__(self) -> str:
        return f"DcAccount({self.id}, {self.addr})"

    # ---- config and io

    def set_config(self, key: str, value: Optional[str]) -> None:
        self.rpc.set_config(self.id, key, value)

    def get_config(self, key: str) -> Optional[str]:
        return self.rpc.get_config(self.id, key)

    def start_io(self) -> None:
        self.rpc.start_io(self.id)

    def stop_io(self) -> None:
        self.rpc.stop_io(self.id)

    # ---- contacts and chats

    def contact_id(self, addr: str, name: Optional[str] = None) -> int:
        return self.rpc.create_contact(self.id, self.server.stack.addr(addr), name)

    def chat_with(self, addr: str) -> int:
        """The 1:1 chat with addr (created, and so accepted, if needed)."""
        return self.rpc.create_chat_by_contact_id(self.id, self.contact_id(addr))

    def create_group(self, name: str, members: Iterable[str]) -> int:
        """An unencrypted (ad-hoc) group with the given member addresses. It is sent to the
        members with the first message."""
        chat_id = self.rpc.create_group_chat_unencrypted(self.id, name)
        for m in members:
            self.rpc.add_contact_to_chat(self.id, chat_id, self.contact_id(m))
        return chat_id

    def set_chat_name(self, chat_id: int, name: str) -> None:
        """Renames a group; the members learn it from the next mail (Chat-Group-Name-Changed
        names the old name, Chat-Group-Name the new one)."""
        self.rpc.set_chat_name(self.id, chat_id, name)

    def add_member(self, chat_id: int, addr: str) -> None:
        """Adds a member to a group; Delta Chat tells the group (Chat-Group-Member-Added)."""
        self.rpc.add_contact_to_chat(self.id, chat_id, self.contact_id(addr))

    def accept_chat(self, chat_id: int) -> None:
        self.rpc.accept_chat(self.id, chat_id)

    def chat_info(self, chat_id: int) -> dict:
        return self.rpc.get_basic_chat_info(self.id, chat_id)

    def chat_members(self, chat_id: int) -> list:
        """Member addresses of a chat (self included as our own address)."""
        out = []
        for cid in self.rpc.get_chat_contacts(self.id, chat_id):
            out.append(self.addr if cid == CONTACT_ID_SELF else self.rpc.get_contact(self.id, cid)["address"])
        return out

    def chat_ids(self) -> list:
        return self.rpc.get_chatlist_entries(self.id, None, None, None)

    def messages(self, chat_id: int) -> list:
        ids = self.rpc.get_message_ids(self.id, chat_id, False, False)
        return [self.get_message(i) for i in ids]

    # ---- sending

    def send(self, chat_id: int, text: Optional[str] = None, *, file: Optional[str] = None,
             filename: Optional[str] = None, viewtype: Optional[str] = None,
             quote: Optional[Union[int, Msg]] = None,
             override_sender_name: Optional[str] = None, html: Optional[str] = None) -> int:
        """send_msg with any combination; returns the new message id."""
        data: dict[str, Any] = {}
        if text is not None:
            data["text"] = text
        if file is not None:
            data["file"] = str(file)
            data["filename"] = filename or Path(file).name
            data["viewtype"] = viewtype or "File"
        elif viewtype:
            data["viewtype"] = viewtype
        if quote is not None:
            data["quotedMessageId"] = quote.id if isinstance(quote, Msg) else int(quote)
        if override_sender_name is not None:
            data["overrideSenderName"] = override_sender_name
        if html is not None:
            data["html"] = html
        return self.rpc.send_msg(self.id, chat_id, data)

    def send_text(self, chat_id: int, text: str, **kw) -> int:
        return self.send(chat_id, text, **kw)

    def reply(self, to: Union[int, Msg], text: str) -> int:
        """A reply quoting `to`, in the chat `to` is in."""
        m = to if isinstance(to, Msg) else self.get_message(to)
        return self.send(m.chat_id, text, quote=m.id)

    def send_file(self, chat_id: int, path: Union[str, Path], text: Optional[str] = None,
                  viewtype: str = "File", filename: Optional[str] = None) -> int:
        """viewtype "Image" shows it as a picture; Delta Chat may then recode a large or EXIF-
        carrying JPEG. "File" sends the bytes unchanged."""
        return self.send(chat_id, text, file=str(path), viewtype=viewtype, filename=filename)

    def react(self, msg: Union[int, Msg], emoji: str) -> int:
        """Sends a reaction (replaces an earlier one of ours; "" retracts it)."""
        mid = msg.id if isinstance(msg, Msg) else int(msg)
        return self.rpc.send_reaction(self.id, mid, [emoji] if emoji else [])

    def edit(self, msg: Union[int, Msg], new_text: str) -> None:
        """Sends an edit request (`Chat-Edit`). Note: receivers honour it only in a form they
        accept for the chat's encryption state; see coi-protocol.md §3.3."""
        mid = msg.id if isinstance(msg, Msg) else int(msg)
        self.rpc.send_edit_request(self.id, mid, new_text)

    def delete_for_all(self, msgs: Iterable[Union[int, Msg]]) -> None:
        """Deletes locally and sends a delete request (`Chat-Delete`). Core refuses this for
        unencrypted messages (JsonRpcError)."""
        ids = [m.id if isinstance(m, Msg) else int(m) for m in msgs]
        self.rpc.delete_messages_for_all(self.id, ids)

    def delete_local(self, msgs: Iterable[Union[int, Msg]]) -> None:
        ids = [m.id if isinstance(m, Msg) else int(m) for m in msgs]
        self.rpc.delete_messages(self.id, ids)

    def mark_seen(self, msgs: Iterable[Union[int, Msg]]) -> None:
        """Marks messages as read; in an accepted chat with mdns_enabled this sends read
        receipts (MDNs) to senders that asked for them."""
        ids = [m.id if isinstance(m, Msg) else int(m) for m in msgs]
        self.rpc.markseen_msgs(self.id, ids)

    # ---- reading

    def get_message(self, msg_id: int) -> Msg:
        return Msg.from_rpc(self.rpc.get_message(self.id, msg_id))

    def message_id_header(self, msg: Union[int, Msg]) -> str:
        """The Message-ID (without <>) the message has on the wire."""
        mid = msg.id if isinstance(msg, Msg) else int(msg)
        return self.rpc.get_message_info_object(self.id, mid)["rfc724Mid"]

    def message_info(self, msg: Union[int, Msg]) -> str:
        """Delta Chat's multi-line debugging info for a message (includes errors)."""
        mid = msg.id if isinstance(msg, Msg) else int(msg)
        return self.rpc.get_message_info(self.id, mid)

    # ---- waiting

    def _pump(self, timeout: float) -> Optional[dict]:
        """Takes one event from the server (waiting at most timeout), records and returns it."""
        try:
            ev = self._queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        self.events.append(ev)
        return ev

    def drain(self) -> None:
        while self._pump(0) is not None:
            pass

    def mark(self) -> int:
        """A position in the event history, for wait_event(since=...)."""
        self.drain()
        return len(self.events)

    def wait_event(self, match: Union[str, Callable[[dict], bool]], timeout: float = DEFAULT_TIMEOUT,
                   since: int = 0) -> dict:
        """The first event (in history from `since` on, or arriving within timeout) whose kind is
        `match` (a string) or for which `match(event)` is true."""
        pred = (lambda e: e.get("kind") == match) if isinstance(match, str) else match
        i = since
        deadline = time.monotonic() + timeout
        while True:
            while i < len(self.events):
                if pred(self.events[i]):
                    return self.events[i]
                i += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise DcTimeout(f"{self.addr}: no event {match} within {timeout}s; last events: "
                                f"{self._event_summary(since)}")
            self._pump(min(left, 0.5))

    def wait_until(self, cond: Callable[[], Any], what: str, timeout: float = DEFAULT_TIMEOUT):
        """Polls cond() (after each event, at least every 0.25 s) until it returns something
        truthy, and returns that."""
        deadline = time.monotonic() + timeout
        while True:
            r = cond()
            if r:
                return r
            left = deadline - time.monotonic()
            if left <= 0:
                raise DcTimeout(f"{self.addr}: {what} not reached within {timeout}s; last events: "
                                f"{self._event_summary(max(0, len(self.events) - 15))}")
            self._pump(min(left, 0.25))

    def _event_summary(self, since: int) -> str:
        keep = [e for e in self.events[since:] if e.get("kind") not in ("Info",)]
        return "; ".join(
            e.get("kind", "?") + ("(" + str(e.get("msg") or e.get("msgId") or "")[:160] + ")")
            for e in keep[-15:]
        )

    def _candidate_incoming(self) -> list:
        """Ids of incoming, non-info messages not returned yet, oldest first."""
        ids = []
        for chat_id in self.chat_ids():
            if chat_id <= 9:  # special chats (trash, archived link, ...)
                continue
            for mid in self.rpc.get_message_ids(self.id, chat_id, False, False):
                if mid not in self._consumed and mid not in self._not_incoming:
                    ids.append(mid)
        ids.sort()
        out = []
        for mid in ids:
            m = self.rpc.get_message(self.id, mid)
            if m["fromId"] == CONTACT_ID_SELF or m.get("isInfo") or m["fromId"] in (CONTACT_ID_INFO, CONTACT_ID_DEVICE):
                self._not_incoming.add(mid)
                continue
            if m.get("downloadState") not in (None, "Done"):
                continue
            out.append(Msg.from_rpc(m))
        return out

    def wait_for_message(self, text: Optional[str] = None, *, sender: Optional[str] = None,
                         chat_id: Optional[int] = None, contains: Optional[str] = None,
                         pred: Optional[Callable[[Msg], bool]] = None,
                         timeout: float = DEFAULT_TIMEOUT) -> Msg:
        """The oldest incoming chat message not yet returned by this method that matches all of:
        exact text, sender address, chat id, a substring of the text, pred(msg). Waits for it.
        Messages skipped because they do not match stay available for later calls."""
        sender = self.server.stack.addr(sender) if sender else None

        def ok(m: Msg) -> bool:
            return ((text is None or m.text == text)
                    and (sender is None or m.sender_addr.lower() == sender.lower())
                    and (chat_id is None or m.chat_id == chat_id)
                    and (contains is None or contains in m.text)
                    and (pred is None or pred(m)))

        seen: list = []

        def cond():
            cands = self._candidate_incoming()
            seen[:] = cands
            for m in cands:
                if ok(m):
                    self._consumed.add(m.id)
                    return m
            return None

        try:
            return self.wait_until(cond, f"incoming message text={text!r} sender={sender} "
                                         f"chat={chat_id} contains={contains!r}", timeout)
        except DcTimeout as e:
            have = [(m.id, m.sender_addr, m.text[:80]) for m in seen]
            raise DcTimeout(f"{e}\n  unmatched incoming messages: {have}") from None

    def wait_state(self, msg: Union[int, Msg], states: Iterable[int], timeout: float = DEFAULT_TIMEOUT) -> Msg:
        mid = msg.id if isinstance(msg, Msg) else int(msg)
        states = set(states)

        def cond():
            m = self.get_message(mid)
            if m.state == STATE_OUT_FAILED and STATE_OUT_FAILED not in states:
                raise AssertionError(f"{self.addr}: message {mid} failed: {self.message_info(mid)}")
            return m if m.state in states else None

        return self.wait_until(cond, f"message {mid} in state {sorted(states)}", timeout)

    def wait_delivered(self, msg: Union[int, Msg], timeout: float = DEFAULT_TIMEOUT) -> Msg:
        """Until the SMTP server took the message."""
        return self.wait_state(msg, (STATE_OUT_DELIVERED, STATE_OUT_MDN_RCVD), timeout)

    def read_receipts(self, msg: Union[int, Msg]) -> dict:
        """{contact address: timestamp} of the read receipts (MDNs) received for our message."""
        mid = msg.id if isinstance(msg, Msg) else int(msg)
        out = {}
        for r in self.rpc.get_message_read_receipts(self.id, mid):
            out[self.rpc.get_contact(self.id, r["contactId"])["address"]] = r["timestamp"]
        return out

    def wait_read(self, msg: Union[int, Msg], by: Optional[str] = None,
                  timeout: float = DEFAULT_TIMEOUT) -> dict:
        """Until a read receipt (MDN) for our message came back (from `by`, if given); returns
        read_receipts(). (Core >= 2.59 no longer stores the state OutMdnRcvd; the receipts are
        kept per contact.)"""
        by = self.server.stack.addr(by).lower() if by else None

        def cond():
            r = self.read_receipts(msg)
            return r if r and (by is None or by in {a.lower() for a in r}) else None

        return self.wait_until(cond, f"read receipt for {msg} from {by or 'anyone'}", timeout)

    def reactions(self, msg: Union[int, Msg]) -> dict:
        """{contact address: emoji} for a message."""
        mid = msg.id if isinstance(msg, Msg) else int(msg)
        r = self.rpc.get_message_reactions(self.id, mid)
        if not r:
            return {}
        out = {}
        for cid, emojis in r["reactionsByContact"].items():
            cid = int(cid)
            addr = self.addr if cid == CONTACT_ID_SELF else self.rpc.get_contact(self.id, cid)["address"]
            out[addr] = " ".join(emojis)
        return out

    def wait_for_reaction(self, msg: Union[int, Msg], emoji: Optional[str] = None, *,
                          sender: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT) -> dict:
        """Until the message has a reaction (from sender, equal to emoji if given); returns
        reactions() at that moment."""
        sender = self.server.stack.addr(sender) if sender else None

        def cond():
            r = self.reactions(msg)
            for who, e in r.items():
                if (sender is None or who.lower() == sender.lower()) and (emoji is None or e == emoji):
                    return r
            return None

        return self.wait_until(cond, f"reaction {emoji!r} from {sender} on {msg}", timeout)

    def wait_for_text(self, msg: Union[int, Msg], text: str, timeout: float = DEFAULT_TIMEOUT) -> Msg:
        """Until the (edited) message shows `text`."""
        mid = msg.id if isinstance(msg, Msg) else int(msg)
        return self.wait_until(lambda: (lambda m: m if m.text == text else None)(self.get_message(mid)),
                               f"message {mid} text {text!r}", timeout)

    def wait_for_deleted(self, msg: Union[int, Msg], timeout: float = DEFAULT_TIMEOUT) -> None:
        mid = msg.id if isinstance(msg, Msg) else int(msg)

        def cond():
            if not self.rpc.get_existing_msg_ids(self.id, [mid]):
                return True
            return self.get_message(mid).chat_id == 3  # moved to the trash chat
        self.wait_until(cond, f"message {mid} deleted", timeout)


@contextlib.contextmanager
def parallel_delivery(stack: "StackEnv"):
    """The stack's Postfix delivering as a provider's does, while the block runs: up to
    Postfix's default of 20 LMTP deliveries at once into the same mailbox server.
    scripts/stack delivers one mail at a time; with parallel deliveries, mails sent
    milliseconds apart reach a mailbox out of order, as they do in a deployment. The stack's
    own setting comes back afterwards."""
    etc = stack.dir / "postfix" / "etc"  # scripts/stack's layout: DIR/postfix/etc/main.cf

    def run(*cmd: str) -> str:
        r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"{' '.join(cmd)}: {r.returncode} {r.stdout}{r.stderr}"
        return r.stdout.strip()

    postconf = shutil.which("postconf") or "/usr/sbin/postconf"
    postfix = shutil.which("postfix") or "/usr/sbin/postfix"
    key = "lmtp_destination_concurrency_limit"
    before = run(postconf, "-c", str(etc), "-h", key)
    run(postconf, "-c", str(etc), "-e", f"{key}=$default_destination_concurrency_limit")
    run(postfix, "-c", str(etc), "reload")
    try:
        yield
    finally:
        run(postconf, "-c", str(etc), "-e", f"{key}={before}")
        run(postfix, "-c", str(etc), "reload")


class TcpGate:
    """A TCP forwarder from a free loopback port to `target_port`, which a test can shut as
    if the server went away: while shut, new connections are closed at once and the open
    ones are cut. Transparent to STARTTLS and TLS (the bytes pass unchanged)."""

    def __init__(self, target_port: int, host: str = "127.0.0.1"):
        self.target = (host, target_port)
        self._listener = socket.create_server((host, 0))
        self.port = self._listener.getsockname()[1]
        self._open = True
        self._lock = threading.Lock()
        self._socks: set = set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if not self._open:
                    client.close()
                    continue
                try:
                    server = socket.create_connection(self.target, timeout=10)
                except OSError:
                    client.close()
                    continue
                server.settimeout(None)
                self._socks |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def shut(self) -> None:
        with self._lock:
            self._open = False
            socks, self._socks = self._socks, set()
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def open(self) -> None:
        with self._lock:
            self._open = True

    def close(self) -> None:
        self._closed = True
        self.shut()
        self._listener.close()
