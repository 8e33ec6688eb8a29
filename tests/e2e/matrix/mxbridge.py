"""The real coi-bridge binary as a Matrix application service, for the end-to-end tests.

Its registration is written by `coi-bridge generate-registration` before Synapse starts (the
homeserver loads it at start-up), so the bridge's HTTP port is fixed for the whole session;
each test then runs its own bridge process on that port with a fresh database.

The other side of the bridge is a spool connector (events in as JSON files, deliveries out
as JSON files), so these tests see exactly what the Matrix connector publishes and posts.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Callable, Iterable, Optional

ADMIN_TOKEN = "matrix-e2e-admin-token-0123456789"
CONNECTOR = "matrix"


def spool_text(delivery: dict) -> Optional[str]:
    """The text of a spool delivery that posts a message, else None."""
    return ((delivery.get("event") or {}).get("payload") or {}).get("body", {}).get("text")


def psql_binary() -> str:
    found = shutil.which("psql")
    if found:
        return found
    cands = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"),
                   key=lambda x: int(x.parts[-3]) if x.parts[-3].isdigit() else 0)
    if not cands:
        raise AssertionError("psql not found (PATH or /usr/lib/postgresql/*/bin)")
    return str(cands[-1])


def psql(conninfo: str, sql: str) -> str:
    r = subprocess.run([psql_binary(), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"psql failed: {r.stderr}")
    return r.stdout.strip()


class BridgeSetup:
    """What the session fixes for one Matrix connector: the bridge's port, the connector's
    name, its homeserver and its registration file."""

    def __init__(self, binary: str, workdir: Path, port: int, hs_url: str, server_name: str,
                 name: str = CONNECTOR):
        self.binary = binary
        self.dir = workdir
        self.port = port
        self.hs_url = hs_url
        self.server_name = server_name
        self.name = name
        self.registration = workdir / "coi-bridge-registration.yaml"

    def matrix_entry(self, registration: Optional[Path] = None, extra: str = "") -> str:
        """This connector's entry of connectors.matrix; `extra` is more YAML of the same entry,
        indented by six."""
        q = json.dumps
        return (f"    - name: {q(self.name)}\n"
                f"      homeserver_url: {q(self.hs_url)}\n"
                f"      server_name: {q(self.server_name)}\n"
                f"      registration: {q(str(registration or self.registration))}\n"
                f"      url: {q(f'http://127.0.0.1:{self.port}')}\n" + extra)

    def matrix_yaml(self, registration: Optional[Path] = None, extra: str = "") -> str:
        """The connectors.matrix part with this connector alone."""
        return "  matrix:\n" + self.matrix_entry(registration, extra)

    def generate_registration(self) -> str:
        """Runs `coi-bridge generate-registration`; returns what it printed."""
        cfg = self.dir / "generate.yaml"
        cfg.write_text("database:\n  url: \"host=/nonexistent\"\nadmin:\n  tokens:\n"
                       f"    - {{name: e2e, token: {json.dumps(ADMIN_TOKEN)}, scopes: [write]}}\n"
                       "connectors:\n" + self.matrix_yaml())
        r = subprocess.run([self.binary, "generate-registration", "--config", str(cfg)], capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=30)
        if r.returncode != 0:
            raise AssertionError(f"generate-registration failed ({r.returncode}): {r.stdout}{r.stderr}")
        return r.stdout


class MailAccount:
    """A COI connector "mail" for a stack account (tests/e2e/deltachat's StackEnv)."""

    def __init__(self, stack, address: str, password: str):
        self.stack = stack
        self.address = address
        self.password = password

    def yaml(self) -> str:
        q = json.dumps
        s = self.stack

        def server(port: int) -> str:
            return (f"{{host: localhost, port: {port}, tls: starttls, ca_file: {q(str(s.ca_file))}, "
                    f"username: {q(self.address)}, password: {q(self.password)}}}")

        return ("  coi:\n"
                "    - name: mail\n"
                f"      address: {q(self.address)}\n"
                f"      imap: {server(s.imap_port)}\n"
                f"      smtp: {server(s.submission_port)}\n")

    def puppet(self, connector: str, remote_id: str) -> str:
        """The puppet address of a person of another network (coi_addresses.cpp's escaping)."""
        def esc(text: str) -> str:
            return "".join(chr(b) if (0x61 <= b <= 0x7A or 0x30 <= b <= 0x39) else f"={b:02x}" for b in text.encode())
        local, domain = self.address.split("@")
        return f"{local.lower()}+{esc(connector)}.{esc(remote_id)}@{domain.lower()}"


class MxBridge:
    """One coi-bridge process: the Matrix connector of `setup`, then those of `more_matrix` (the
    same port, other homeservers), a spool connector "spool", and a COI connector if `mail`."""

    def __init__(self, setup: BridgeSetup, workdir: Path, conninfo: str, registration: Optional[Path] = None,
                 mail: Optional[MailAccount] = None, matrix_extra: str = "",
                 more_matrix: Iterable[BridgeSetup] = ()):
        self.setup = setup
        self.dir = workdir
        self.conninfo = conninfo
        self.port = setup.port
        self.inbox = workdir / "in"
        self.outbox_dir = workdir / "out"
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "config.yaml"
        self.log_path = workdir / "bridge.log"
        self.proc: Optional[subprocess.Popen] = None
        q = json.dumps
        self.config_path.write_text(
            "database:\n"
            f"  url: {q(conninfo)}\n"
            "http:\n"
            f"  listen: 127.0.0.1:{self.port}\n"
            "  max_body_bytes: 16777216\n"
            "admin:\n"
            "  tokens:\n"
            f"    - {{name: e2e, token: {q(ADMIN_TOKEN)}, scopes: [write]}}\n"
            "logging:\n"
            "  level: debug\n"
            "delivery:\n"
            "  backoff_initial_ms: 50\n"
            "  backoff_max_ms: 1000\n"
            "connectors:\n"
            "  spool:\n"
            f"    - {{name: spool, inbox_dir: {q(str(self.inbox))}, outbox_dir: {q(str(self.outbox_dir))}}}\n"
            + setup.matrix_yaml(registration, matrix_extra) + "".join(m.matrix_entry() for m in more_matrix)
            + (mail.yaml() if mail else ""))
        self.mail = mail

    # ---- process

    def start(self, timeout: float = 60, expect_ready: bool = True) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with open(self.log_path, "ab") as log:
            cmd = [self.setup.binary, "run", "--config", str(self.config_path)]
            if os.environ.get("MXBRIDGE_GDB"):  # a backtrace in the log if it crashes
                cmd = ["gdb", "-batch", "-ex", "run", "-ex", "bt", "--args", *cmd]
            self.proc = subprocess.Popen(cmd,
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if expect_ready:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"coi-bridge exited with {self.proc.returncode} before it was ready:\n"
                                     f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"coi-bridge not ready within {timeout}s:\n{self.log_tail()}")

    def wait_exit(self, timeout: float = 90) -> int:
        return self.proc.wait(timeout=timeout)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError(f"coi-bridge did not exit within {timeout}s:\n{self.log_tail()}")
        return self.proc.returncode

    def kill(self) -> int:
        return self.stop(signal.SIGKILL)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 80) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    # ---- HTTP: admin API and the appservice endpoints as the homeserver would call them

    def http(self, method: str, path: str, body=None, headers: Optional[dict] = None) -> tuple:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def api(self, method: str, path: str, body=None) -> tuple:
        return self.http(method, path, body, {"Authorization": f"Bearer {ADMIN_TOKEN}"})

    def link(self, room_id: str, spool_conversation: str, name: Optional[str] = None) -> int:
        status, b = self.api("POST", "/api/v1/bridges", {"name": name or f"b{random.randrange(10**9)}"})
        assert status == 201, (status, b)
        for connector, remote_id in ((CONNECTOR, room_id), ("spool", spool_conversation)):
            status, body = self.api("POST", f"/api/v1/bridges/{b['id']}/links",
                                    {"connector": connector, "remote_id": remote_id})
            assert status == 201, (connector, remote_id, status, body)
        return b["id"]

    def link_pair(self, a: tuple, b: tuple) -> int:
        """A bridge linking (connector, conversation) a and b."""
        return self.link_all(a, b)

    def link_all(self, *ends: tuple) -> int:
        """A bridge linking every (connector, conversation) of `ends`."""
        status, made = self.api("POST", "/api/v1/bridges", {"name": f"b{random.randrange(10**9)}"})
        assert status == 201, (status, made)
        for connector, remote_id in ends:
            status, body = self.api("POST", f"/api/v1/bridges/{made['id']}/links",
                                    {"connector": connector, "remote_id": remote_id})
            assert status == 201, (connector, remote_id, status, body)
        return made["id"]

    def conversations(self, connector: str, linked: Optional[bool] = None, limit: int = 100) -> list:
        """Every conversation the bridge knows of a connector (GET /api/v1/conversations, all
        pages), linked or not or both."""
        items: list = []
        after = None
        while True:
            query = {"connector": connector, "limit": str(limit)}
            if linked is not None:
                query["linked"] = "true" if linked else "false"
            if after is not None:
                query["after"] = str(after)
            status, body = self.api("GET", "/api/v1/conversations?" + urllib.parse.urlencode(query))
            assert status == 200, f"GET /api/v1/conversations?{urllib.parse.urlencode(query)}: {status} {body}"
            items += body["items"]
            after = body.get("next_after")
            if after is None:
                return items

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a Prometheus counter's samples from /metrics whose labels include
        `labels`; 0 when there is none."""
        status, text = self.http("GET", "/metrics")
        assert status == 200, (status, text)
        total = 0.0
        for line in str(text).splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            sample, _, value = line.rpartition(" ")
            if all(f'{k}="{v}"' in sample for k, v in labels.items()):
                total += float(value)
        return total

    def sql(self, query: str) -> str:
        return psql(self.conninfo, query)

    # ---- spool side

    def drop(self, name: str, event: dict) -> Path:
        final = self.inbox / f"{name}.json"
        tmp = self.inbox / f".{name}.json.part"
        tmp.write_text(json.dumps(event))
        os.rename(tmp, final)
        return final

    def outbox(self) -> list:
        out = []
        for p in sorted(self.outbox_dir.glob("*.json")):
            try:
                out.append(json.loads(p.read_text()))
            except (FileNotFoundError, ValueError):
                continue
        return out

    def deliveries_log(self) -> list:
        try:
            return (self.outbox_dir / "deliveries.log").read_text().splitlines()
        except FileNotFoundError:
            return []

    def wait_sql(self, query: str, expected: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while (got := self.sql(query)) != expected:
            if time.monotonic() > deadline:
                raise AssertionError(f"{query} gave {got!r}, not {expected!r}; coi-bridge log tail:\n"
                                     f"{self.log_tail(60)}")
            time.sleep(0.05)

    def outbox_through_marker(self, send_marker: Callable[[str], object], timeout: float = 60) -> list:
        """The spool deliveries once a marker has come through: `send_marker(text)` sends a
        message along the path under test, after everything the test checks. The bridge
        publishes what one source sends in order and delivers to a conversation in order, so
        once the marker is in the spool whatever was sent before it has been delivered too, and
        what is missing now never comes. Returns the deliveries other than the marker."""
        marker = f"marker {uuid.uuid4().hex[:12]}"
        send_marker(marker)
        self.wait_outbox(1, timeout, pred=lambda d: spool_text(d) == marker)
        return [d for d in self.outbox() if spool_text(d) != marker]

    def wait_outbox(self, n: int, timeout: float = 60, pred: Optional[Callable] = None) -> list:
        deadline = time.monotonic() + timeout
        while True:
            got = [d for d in self.outbox() if pred is None or pred(d)]
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(got)} of {n} spool deliveries after {timeout}s; coi-bridge log tail:\n"
                                     f"{self.log_tail(60)}")
            time.sleep(0.05)
