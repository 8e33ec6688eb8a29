"""Matrix users and a stand-in application service on a test Synapse, for coi-bridge's
end-to-end tests.

The homeserver is the one `scripts/synapse up DIR [REGISTRATION.yaml ...]` starts; `HsEnv`
reads the MATRIX_* variables it writes to DIR/env.sh. The human side of a test is played by
matrix-nio's AsyncClient, wrapped in a synchronous API (`MxUser`) that runs every call on one
event loop per `Homeserver`: tests stay plain functions, and every wait has a timeout and
raises `MxTimeout` (an AssertionError) saying what was seen instead.

    hs = Homeserver(HsEnv.from_env())
    alice = hs.register("alice")                  # shared-secret admin registration API
    bob = hs.register("bob")
    room = alice.create_room(name="r", invite=[bob.user_id])
    bob.join(room)
    alice.send_text(room, "hello")
    msg = bob.wait_for_message(room_id=room, sender=alice.user_id)   # -> Message

`AppService` is the application-service side made by hand (registration file, CS API calls
with the as_token, masquerading with ?user_id=), and `TransactionRecorder` an HTTP server that
takes what Synapse pushes to an application service and keeps it for the test to inspect.

What Synapse 1.163.2 sends to an application service (seen by test_synapse_smoke.py):
* `PUT {url}/_matrix/app/v1/transactions/{txnId}` with `Authorization: Bearer <hs_token>`,
  `Content-Type: application/json`, `Accept: application/json`, `Accept-Encoding: gzip`,
  `User-Agent: Synapse/1.163.2` (plus " (b=BRANCH,COMMIT)" when Synapse's files sit inside a
  git checkout, as .cache/matrix-venv does), and *no* query string: the `?access_token=` copy
  of the hs_token is sent only with the homeserver option
  `use_appservice_legacy_authorization: true` (off by default, deprecated).
* txnId is a decimal counter starting at 1 per application service. The next transaction is
  sent only after the previous one was answered, so bursts arrive as many small transactions.
* Body keys: `events` always. With `receive_ephemeral: true` in the registration also
  `ephemeral` (m.typing and m.receipt with `room_id`; m.presence without) and
  `de.sorunome.msc2409.to_device`; with the old `de.sorunome.msc2409.push_ephemeral: true`
  the same list under `de.sorunome.msc2409.ephemeral` instead (both flags: both keys).
  To-device messages stay under the unstable key whichever flag is used.
* Events are client-format and also carry the legacy top-level `age` and `user_id` (= sender);
  an invite also carries a top-level `invite_room_state`.
* New rooms are room version 12: room ids have no ":server" part (`!<hash>`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from nio import AsyncClient, AsyncClientConfig, RoomPreset, RoomVisibility
from nio.responses import ErrorResponse, SyncResponse

__all__ = [
    "DEFAULT_TIMEOUT",
    "MxTimeout",
    "MxError",
    "HsEnv",
    "HsEnvMissing",
    "Homeserver",
    "MxUser",
    "Message",
    "AppService",
    "TransactionRecorder",
    "Request",
]

DEFAULT_TIMEOUT = float(os.environ.get("MXPEER_TIMEOUT", "30"))

# Loopback only: a proxy from the environment must never see test traffic.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def escape_localpart(text: str) -> str:
    """The bridge's escaping of a remote id into a Matrix localpart (matrix_ids.cpp; Matrix
    spec appendix, "Mapping from other character sets")."""
    out = []
    for b in text.encode():
        c = chr(b)
        if c.isascii() and (c.islower() or c.isdigit() or c in "-./"):
            out.append(c)
        elif c == "_":
            out.append("__")
        elif "A" <= c <= "Z":
            out.append("_" + c.lower())
        else:
            out.append(f"={b:02x}")
    return "".join(out)


def make_png(seed: str, side: int = 32) -> bytes:
    """A small PNG of RGB noise derived from `seed`: a different image per seed."""
    import struct
    import uuid
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    h = uuid.uuid5(uuid.NAMESPACE_OID, seed).bytes
    rows = b"".join(b"\0" + bytes((h[(x + y) % 16] ^ x) & 0xFF for x in range(side * 3)) for y in range(side))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def ghost_of(remote_id: str, server_name: str = "matrix.test", connector: Optional[str] = None) -> str:
    """The ghost user id of a person: of the connector direct chats go to (the mail account,
    short form) when `connector` is None, else of that connector ("<connector>_-<id>")."""
    if connector is None:
        return f"@_coi_{escape_localpart(remote_id)}:{server_name}"
    return f"@_coi_{escape_localpart(connector)}_-{escape_localpart(remote_id)}:{server_name}"


def portal_alias_of(conversation: str, server_name: str = "matrix.test") -> str:
    """The portal alias of a mail conversation (the same escaping as ghosts)."""
    return f"#_coi_{escape_localpart(conversation)}:{server_name}"


class MxTimeout(AssertionError):
    """A wait ran out of time. The message says what was waited for and what was seen."""


class MxError(AssertionError):
    """A request to the homeserver failed."""


class HsEnvMissing(RuntimeError):
    pass


def http_json(method: str, url: str, body: Any = None, token: Optional[str] = None,
              timeout: float = 30) -> tuple:
    """One JSON request; returns (status, parsed body or None). HTTP errors are returned,
    not raised."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _HTTP.open(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


# --------------------------------------------------------------------------------------------
# Starting and stopping homeservers (scripts/synapse)

SYNAPSE_SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "synapse"


def free_port(avoid: Iterable[int] = ()) -> int:
    """A TCP port on 127.0.0.1 that was free when asked and is none of `avoid`: two ports asked
    for one after the other can be the same one (each was free when asked)."""
    avoid = set(avoid)
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port


def synapse_script(*args: str, env: dict) -> str:
    """Runs `scripts/synapse ARGS` (SYNAPSE_* settings in `env`); returns what it printed."""
    r = subprocess.run([str(SYNAPSE_SCRIPT), *args], capture_output=True, text=True, env=env, timeout=240,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise AssertionError(f"scripts/synapse {' '.join(args)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


# --------------------------------------------------------------------------------------------
# The homeserver


@dataclass(frozen=True)
class HsEnv:
    """The test homeserver, as described by DIR/env.sh of `scripts/synapse up DIR`."""

    url: str
    server_name: str
    shared_secret: str
    dir: Optional[Path] = None

    REQUIRED = ("MATRIX_HS_URL", "MATRIX_SERVER_NAME", "MATRIX_SHARED_SECRET")

    @classmethod
    def from_env(cls, env: Optional[dict] = None) -> "HsEnv":
        env = os.environ if env is None else env
        missing = [k for k in cls.REQUIRED if not env.get(k)]
        if missing:
            raise HsEnvMissing(
                "the Matrix e2e tests need a homeserver, but " + ", ".join(missing)
                + " are not set. Start one and load its variables first:\n"
                "  scripts/synapse up DIR && . DIR/env.sh")
        return cls(url=env["MATRIX_HS_URL"].rstrip("/"), server_name=env["MATRIX_SERVER_NAME"],
                   shared_secret=env["MATRIX_SHARED_SECRET"],
                   dir=Path(env["MATRIX_DIR"]) if env.get("MATRIX_DIR") else None)

    @classmethod
    def from_file(cls, env_sh: Path) -> "HsEnv":
        """Reads DIR/env.sh (lines NAME=value, values as bash's printf %q writes them; the
        values scripts/synapse writes need no unquoting)."""
        env = {}
        for line in Path(env_sh).read_text().splitlines():
            if "=" in line and not line.startswith(("#", "export ")):
                k, v = line.split("=", 1)
                env[k] = v
        return cls.from_env(env)


class Homeserver:
    """Creates users on the test homeserver and owns the event loop their clients run on."""

    def __init__(self, env: HsEnv):
        self.env = env
        self.loop = asyncio.new_event_loop()
        self.users: list = []

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.env.server_name}"

    def api(self, method: str, path: str, body: Any = None, token: Optional[str] = None) -> tuple:
        return http_json(method, self.env.url + path, body, token)

    def register_account(self, localpart: str, password: str, *, admin: bool = False,
                         displayname: Optional[str] = None) -> dict:
        """Creates an account through the shared-secret admin registration API: GET a nonce,
        then POST it with HMAC-SHA1(shared secret, nonce NUL user NUL password NUL
        admin|notadmin). Returns the response: user_id, access_token, device_id, home_server."""
        status, b = self.api("GET", "/_synapse/admin/v1/register")
        if status != 200:
            raise MxError(f"GET /_synapse/admin/v1/register: {status} {b}")
        nonce = b["nonce"]
        mac = hmac.new(self.env.shared_secret.encode(), digestmod=hashlib.sha1)
        for part in (nonce, localpart, password):
            mac.update(part.encode())
            mac.update(b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        body = {"nonce": nonce, "username": localpart, "password": password,
                "admin": admin, "mac": mac.hexdigest()}
        if displayname is not None:
            body["displayname"] = displayname
        status, b = self.api("POST", "/_synapse/admin/v1/register", body)
        if status != 200:
            raise MxError(f"registering {localpart}: {status} {b}")
        return b

    def register(self, localpart: str, password: Optional[str] = None, *, admin: bool = False,
                 displayname: Optional[str] = None) -> "MxUser":
        """A new account, returned as an MxUser whose client uses the registration's access
        token (no separate login)."""
        password = password or f"{localpart}pw"
        r = self.register_account(localpart, password, admin=admin, displayname=displayname)
        user = MxUser(self, r["user_id"], password, r["access_token"], r["device_id"])
        self.users.append(user)
        return user

    def login(self, localpart: str, password: str) -> "MxUser":
        """An existing account, logged in with its password (a new device)."""
        user = MxUser(self, self.user_id(localpart), password, None, None)
        resp = self.run(user.client.login(password, device_name="mxpeer"))
        if isinstance(resp, ErrorResponse):
            raise MxError(f"login of {user.user_id}: {resp}")
        user.access_token, user.device_id = resp.access_token, resp.device_id
        self.users.append(user)
        return user

    def close(self) -> None:
        for u in self.users:
            try:
                self.run(u.client.close())
            except Exception as e:  # the server may be gone already; closing is best effort
                print(f"closing the client of {u.user_id}: {e}")
        self.users.clear()
        self.loop.close()


# --------------------------------------------------------------------------------------------
# A user


@dataclass
class Message:
    room_id: str
    event_id: str
    sender: str
    body: Optional[str]
    msgtype: Optional[str]
    content: dict
    source: dict = field(repr=False)


class MxUser:
    """One Matrix account driven through matrix-nio. Every sync's timeline events are kept
    (`events`), so a wait also finds what an earlier sync brought in."""

    def __init__(self, hs: Homeserver, user_id: str, password: str, access_token: Optional[str],
                 device_id: Optional[str]):
        self.hs = hs
        self.user_id = user_id
        self.password = password
        self.access_token = access_token
        self.device_id = device_id
        # max_limit_exceeded=0: a 429 is an error here, not a silent retry, so a test sees when
        # the homeserver's rate limits get in its way.
        config = AsyncClientConfig(max_limit_exceeded=0, max_timeouts=2, request_timeout=60,
                                   store_sync_tokens=False, encryption_enabled=False)
        self.client = AsyncClient(hs.env.url, user_id, device_id=device_id or "", config=config)
        if access_token:
            self.client.restore_login(user_id, device_id, access_token)
        self.events: list = []  # (room_id, raw event dict), in sync order
        self._taken: set = set()  # event ids a wait_for_message already returned
        self.invites: list = []  # room ids this user was invited to, in sync order
        self.receipts: list = []  # (room id, user id, event id, receipt type) from sync
        self.typing_seen: list = []  # (room id, sorted user ids typing) from sync, in order
        self._synced_once = False

    def __repr__(self) -> str:
        return f"MxUser({self.user_id})"

    def _check(self, resp, what: str):
        if isinstance(resp, ErrorResponse):
            raise MxError(f"{self.user_id}: {what}: {resp}")
        return resp

    # ---- rooms

    def create_room(self, name: Optional[str] = None, invite: Iterable[str] = (), *,
                    is_direct: bool = False, preset: RoomPreset = RoomPreset.private_chat,
                    **kw) -> str:
        resp = self.hs.run(self.client.room_create(visibility=RoomVisibility.private, name=name,
                                                   invite=list(invite), is_direct=is_direct,
                                                   preset=preset, **kw))
        return self._check(resp, f"create room {name!r}").room_id

    def invite(self, room_id: str, user_id: str) -> None:
        self._check(self.hs.run(self.client.room_invite(room_id, user_id)),
                    f"invite {user_id} to {room_id}")

    def join(self, room_id: str) -> str:
        return self._check(self.hs.run(self.client.join(room_id)), f"join {room_id}").room_id

    def leave(self, room_id: str) -> None:
        self._check(self.hs.run(self.client.room_leave(room_id)), f"leave {room_id}")

    # ---- sending

    def send(self, room_id: str, content: dict, event_type: str = "m.room.message",
             txn_id: Optional[str] = None) -> str:
        resp = self.hs.run(self.client.room_send(room_id, event_type, content, tx_id=txn_id))
        return self._check(resp, f"send {event_type} to {room_id}").event_id

    def send_text(self, room_id: str, body: str, msgtype: str = "m.text") -> str:
        return self.send(room_id, {"msgtype": msgtype, "body": body})

    def send_many(self, room_id: str, bodies: Iterable[str], concurrency: int = 8) -> list:
        """Sends texts with up to `concurrency` requests in flight; returns the event ids in
        the order of bodies. Any failure (a 429 included) raises MxError."""
        bodies = list(bodies)
        sem = asyncio.Semaphore(concurrency)

        async def one(body: str):
            async with sem:
                return await self.client.room_send(room_id, "m.room.message",
                                                   {"msgtype": "m.text", "body": body})

        async def all_():
            return await asyncio.gather(*(one(b) for b in bodies))

        return [self._check(r, f"send {b!r} to {room_id}").event_id
                for b, r in zip(bodies, self.hs.run(all_()))]

    def typing(self, room_id: str, on: bool = True, timeout_ms: int = 30000) -> None:
        self._check(self.hs.run(self.client.room_typing(room_id, on, timeout_ms)),
                    f"typing in {room_id}")

    def read_receipt(self, room_id: str, event_id: str) -> None:
        self._check(self.hs.run(self.client.update_receipt_marker(room_id, event_id)),
                    f"receipt for {event_id}")

    # ---- receiving

    def sync(self, timeout_ms: int = 0) -> SyncResponse:
        """One /sync (long-polls up to timeout_ms once the first sync is done); records the
        timeline events of joined rooms and the rooms this user is invited to."""
        resp = self.hs.run(self.client.sync(timeout=timeout_ms if self._synced_once else 0))
        resp = self._check(resp, "sync")
        self._synced_once = True
        for room_id, info in resp.rooms.join.items():
            for ev in info.timeline.events:
                self.events.append((room_id, ev.source))
            for ev in info.ephemeral:
                for r in getattr(ev, "receipts", None) or []:
                    self.receipts.append((room_id, r.user_id, r.event_id, r.receipt_type))
                if isinstance(getattr(ev, "users", None), list):  # m.typing: who types now
                    self.typing_seen.append((room_id, sorted(ev.users)))
        for room_id in resp.rooms.invite:
            if room_id not in self.invites:
                self.invites.append(room_id)
        return resp

    def wait_for_event(self, pred: Callable[[str, dict], bool], what: str,
                       timeout: float = DEFAULT_TIMEOUT) -> dict:
        """The first timeline event (any type) for which pred(room_id, event) holds."""
        deadline = time.monotonic() + timeout
        while True:
            for rid, src in self.events:
                if pred(rid, src):
                    return src
            left = deadline - time.monotonic()
            if left <= 0:
                raise MxTimeout(f"{self.user_id}: no {what} within {timeout}s")
            self.sync(int(min(left, 5) * 1000))

    def wait_for_receipt(self, room_id: str, user_id: str, event_id: str,
                         timeout: float = DEFAULT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not any(r[:3] == (room_id, user_id, event_id) for r in self.receipts):
            left = deadline - time.monotonic()
            if left <= 0:
                raise MxTimeout(f"{self.user_id}: no receipt of {user_id} for {event_id} within {timeout}s; "
                                f"seen: {self.receipts[-5:]}")
            self.sync(int(min(left, 5) * 1000))

    def upload(self, data: bytes, content_type: str, filename: str) -> str:
        """Uploads to the media repository; the mxc:// URI."""
        url = f"{self.hs.env.url}/_matrix/media/v3/upload?filename={urllib.parse.quote(filename)}"
        req = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Authorization": f"Bearer {self.access_token}",
                                              "Content-Type": content_type})
        with _HTTP.open(req, timeout=30) as r:
            return json.loads(r.read())["content_uri"]

    def download(self, mxc: str) -> bytes:
        """Authenticated media download (/_matrix/client/v1/media/download, spec v1.11)."""
        server, media_id = mxc[len("mxc://"):].split("/", 1)
        req = urllib.request.Request(f"{self.hs.env.url}/_matrix/client/v1/media/download/{server}/{media_id}",
                                     headers={"Authorization": f"Bearer {self.access_token}"})
        with _HTTP.open(req, timeout=30) as r:
            return r.read()

    def redact(self, room_id: str, event_id: str) -> str:
        resp = self.hs.run(self.client.room_redact(room_id, event_id))
        return self._check(resp, f"redact {event_id}").event_id

    def messages(self, room_id: Optional[str] = None) -> list:
        """Every m.room.message seen so far (all rooms, or one), as Message, in sync order."""
        out = []
        for rid, src in self.events:
            if src.get("type") != "m.room.message" or (room_id and rid != room_id):
                continue
            content = src.get("content") or {}
            out.append(Message(rid, src.get("event_id", ""), src.get("sender", ""),
                               content.get("body"), content.get("msgtype"), content, src))
        return out

    def wait_for_message(self, *, room_id: Optional[str] = None, sender: Optional[str] = None,
                         body: Optional[str] = None,
                         pred: Optional[Callable[[Message], bool]] = None,
                         timeout: float = DEFAULT_TIMEOUT) -> Message:
        """The first message not returned before that matches every given condition; syncs
        until it is there."""
        def match(m: Message) -> bool:
            return (m.event_id not in self._taken and (room_id is None or m.room_id == room_id)
                    and (sender is None or m.sender == sender) and (body is None or m.body == body)
                    and (pred is None or pred(m)))

        deadline = time.monotonic() + timeout
        while True:
            for m in self.messages():
                if match(m):
                    self._taken.add(m.event_id)
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                seen = [(m.room_id, m.sender, m.body) for m in self.messages()][-10:]
                raise MxTimeout(f"{self.user_id}: no message (room={room_id}, sender={sender}, "
                                f"body={body!r}) within {timeout}s; last seen: {seen}")
            self.sync(int(min(left, 5) * 1000))

    def wait_for_messages(self, n: int, *, room_id: Optional[str] = None,
                          sender: Optional[str] = None,
                          timeout: float = DEFAULT_TIMEOUT) -> list:
        """n messages (see wait_for_message), in the order they were synced."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            left = deadline - time.monotonic()
            try:
                got.append(self.wait_for_message(room_id=room_id, sender=sender,
                                                 timeout=max(left, 0.001)))
            except MxTimeout:
                raise MxTimeout(f"{self.user_id}: {len(got)} of {n} messages (room={room_id}, "
                                f"sender={sender}) within {timeout}s") from None
        return got

    def wait_joined(self, room_id: str, user_id: str, timeout: float = 30,
                    context: Callable[[], str] = lambda: "") -> None:
        """Until `user_id` is a joined member of the room; `context()` goes into the failure."""
        deadline = time.monotonic() + timeout
        while not any(m.user_id == user_id for m in
                      getattr(self.hs.run(self.client.joined_members(room_id)), "members", [])):
            if time.monotonic() > deadline:
                raise MxTimeout(f"{user_id} did not join {room_id} within {timeout}s\n{context()}")
            time.sleep(0.1)

    def wait_for_invite(self, room_id: Optional[str] = None,
                        timeout: float = DEFAULT_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            for rid in self.invites:
                if room_id is None or rid == room_id:
                    return rid
            left = deadline - time.monotonic()
            if left <= 0:
                raise MxTimeout(f"{self.user_id}: no invite to {room_id or 'any room'} within "
                                f"{timeout}s; invites seen: {self.invites}")
            self.sync(int(min(left, 5) * 1000))


# --------------------------------------------------------------------------------------------
# The application-service side


class AppService:
    """An application service registration and the Client-Server calls it makes: everything
    with `Authorization: Bearer <as_token>`, acting as a namespaced user with ?user_id=."""

    def __init__(self, hs_env: HsEnv, *, id: str = "coi-test", sender_localpart: str = "_coi_bot",
                 user_prefix: str = "_coi_", receive_ephemeral: bool = True,
                 as_token: Optional[str] = None, hs_token: Optional[str] = None):
        self.env = hs_env
        self.id = id
        self.sender_localpart = sender_localpart
        self.user_prefix = user_prefix
        self.receive_ephemeral = receive_ephemeral
        self.as_token = as_token or secrets.token_hex(32)
        self.hs_token = hs_token or secrets.token_hex(32)

    @property
    def sender(self) -> str:
        return f"@{self.sender_localpart}:{self.env.server_name}"

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.env.server_name}"

    def registration_yaml(self, url: Optional[str]) -> str:
        q = json.dumps  # a JSON string is a YAML double-quoted scalar
        server = self.env.server_name.replace(".", "\\.")
        lines = [
            f"id: {q(self.id)}",
            f"url: {q(url) if url else 'null'}",
            f"as_token: {q(self.as_token)}",
            f"hs_token: {q(self.hs_token)}",
            f"sender_localpart: {q(self.sender_localpart)}",
            "rate_limited: false",
            "namespaces:",
            "  users:",
            f"    - {{exclusive: true, regex: {q('@' + self.user_prefix + '.*:' + server)}}}",
            "  aliases: []",
            "  rooms: []",
        ]
        if self.receive_ephemeral:
            lines.append("receive_ephemeral: true")
        return "\n".join(lines) + "\n"

    def write_registration(self, path: Path, url: Optional[str]) -> Path:
        path = Path(path)
        path.write_text(self.registration_yaml(url))
        return path

    def api(self, method: str, path: str, body: Any = None, user_id: Optional[str] = None) -> tuple:
        if user_id:
            path += ("&" if "?" in path else "?") + "user_id=" + urllib.parse.quote(user_id)
        return http_json(method, self.env.url + path, body, self.as_token)

    def _ok(self, what: str, r: tuple) -> dict:
        status, b = r
        if status != 200:
            raise MxError(f"appservice {self.id}: {what}: {status} {b}")
        return b or {}

    def register_user(self, localpart: str) -> str:
        """Creates a namespaced user; one that exists already (M_USER_IN_USE) is fine."""
        status, b = self.api("POST", "/_matrix/client/v3/register",
                             {"type": "m.login.application_service", "username": localpart,
                              "inhibit_login": True})
        if status == 200:
            return b["user_id"]
        if status == 400 and isinstance(b, dict) and b.get("errcode") == "M_USER_IN_USE":
            return self.user_id(localpart)
        raise MxError(f"appservice {self.id}: register {localpart}: {status} {b}")

    def join(self, room_id: str, user_id: str) -> str:
        return self._ok(f"join {room_id} as {user_id}",
                        self.api("POST", f"/_matrix/client/v3/join/{urllib.parse.quote(room_id)}",
                                 {}, user_id))["room_id"]

    def send(self, room_id: str, content: dict, user_id: str, event_type: str = "m.room.message",
             txn_id: Optional[str] = None) -> str:
        txn_id = txn_id or secrets.token_hex(8)
        path = (f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/send/"
                f"{urllib.parse.quote(event_type)}/{urllib.parse.quote(txn_id)}")
        return self._ok(f"send to {room_id} as {user_id}",
                        self.api("PUT", path, content, user_id))["event_id"]

    def send_text(self, room_id: str, body: str, user_id: str) -> str:
        return self.send(room_id, {"msgtype": "m.text", "body": body}, user_id)

    def send_many(self, room_id: str, bodies: Iterable[str], user_id: str,
                  concurrency: int = 8) -> list:
        """Texts as user_id with up to `concurrency` requests in flight; the event ids in the
        order of bodies. One at a time, Synapse on SQLite takes ≈80 ms per message."""
        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(lambda b: self.send_text(room_id, b, user_id), bodies))


@dataclass
class Request:
    """One request the homeserver made to the application service."""

    method: str
    path: str
    query: dict  # name -> list of values
    headers: dict  # lower-case name -> value
    body: Any  # parsed JSON, or None
    at: float  # time.monotonic()

    @property
    def txn_id(self) -> Optional[str]:
        prefix = "/_matrix/app/v1/transactions/"
        return self.path[len(prefix):] if self.path.startswith(prefix) else None


class TransactionRecorder:
    """An HTTP server on 127.0.0.1 standing in for an application service: it keeps every
    request and answers transactions and pings with 200 {} and user and room queries with
    404 (nothing is made on demand). It checks nothing itself, so a test can see exactly
    what the homeserver sent."""

    def __init__(self):
        self.requests: list = []
        self._cond = threading.Condition()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                u = urllib.parse.urlsplit(self.path)
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                req = Request(self.command, urllib.parse.unquote(u.path),
                              urllib.parse.parse_qs(u.query),
                              {k.lower(): v for k, v in self.headers.items()}, body,
                              time.monotonic())
                with recorder._cond:
                    recorder.requests.append(req)
                    recorder._cond.notify_all()
                if req.path.startswith(("/_matrix/app/v1/users/", "/_matrix/app/v1/rooms/")):
                    status, answer = 404, {"errcode": "M_NOT_FOUND"}
                else:
                    status, answer = 200, {}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="as-recorder",
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def transactions(self) -> list:
        with self._cond:
            return [r for r in self.requests if r.txn_id is not None]

    def events(self) -> list:
        """Every persistent event of every transaction, in arrival order (repeated
        transactions included)."""
        return [ev for t in self.transactions() for ev in (t.body or {}).get("events", [])]

    def wait_for(self, pred: Callable[[Request], bool], what: str,
                 timeout: float = DEFAULT_TIMEOUT) -> Request:
        """The first recorded request (from the start) for which pred is true."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for r in self.requests:
                    if pred(r):
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(r.method, r.path) for r in self.requests][-10:]
                    raise MxTimeout(f"the application service got no {what} within {timeout}s; "
                                    f"last requests: {seen}")
                self._cond.wait(left)

    def wait_for_event(self, pred: Callable[[dict], bool], what: str,
                       timeout: float = DEFAULT_TIMEOUT) -> tuple:
        """(transaction Request, event) for the first pushed event matching pred."""
        found: list = []

        def has(r: Request) -> bool:
            if r.txn_id is None or not isinstance(r.body, dict):
                return False
            for ev in r.body.get("events", []):
                if pred(ev):
                    found.append(ev)
                    return True
            return False

        r = self.wait_for(has, what, timeout)
        return r, found[0]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
