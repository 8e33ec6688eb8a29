"""Fixtures for the Delta Chat end-to-end tests.

Run with the e2e venv (scripts/e2e-venv) against a running stack (scripts/stack up DIR, then
`. DIR/env.sh`). Without the STACK_* variables every test fails with a message saying so: these
tests are never skipped.

  stack         StackEnv from the STACK_* variables (session)
  dc            one deltachat-rpc-server process for the session (DeltaChatServer)
  make_account  make_account(addr, password, displayname=None, **kw) -> DcAccount; the
                accounts a test makes are taken offline and removed after it
  timings       a dict; what tests put in it is printed at the end of the run
  new_user, make_bridge, bridge
                the real coi-bridge binary against the stack: see "The real coi-bridge
                binary" below

Environment: DCPEER_TIMEOUT (seconds for every wait, default 30), DCPEER_WORKDIR (where the
accounts and the server log go; default a pytest temporary directory), DC_RPC_SERVER (another
deltachat-rpc-server binary). The coi-bridge fixtures also need COIBRIDGE_BINARY and
COIBRIDGE_TEST_PG_URL.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Callable, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dcpeer  # noqa: E402

_TIMINGS: dict = {}
_SERVER: list = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture(scope="session")
def stack() -> dcpeer.StackEnv:
    try:
        env = dcpeer.StackEnv.from_env()
    except dcpeer.StackEnvMissing as e:
        missing = str(e)
    else:
        missing = None
    if missing:
        pytest.fail(missing, pytrace=False)
    for port in (env.imap_port, env.smtp_port):
        try:
            socket.create_connection((env.host, port), timeout=3).close()
        except OSError as e:
            pytest.fail(f"the mail stack from STACK_DIR={env.dir} does not answer on "
                        f"{env.host}:{port} ({e}); is it up? scripts/stack status {env.dir}",
                        pytrace=False)
    return env


@pytest.fixture(scope="session")
def dc(stack, tmp_path_factory):
    workdir = os.environ.get("DCPEER_WORKDIR")
    workdir = Path(workdir) if workdir else tmp_path_factory.mktemp("deltachat")
    t0 = time.monotonic()
    server = dcpeer.DeltaChatServer(stack, workdir)
    _TIMINGS["rpc server start"] = f"{time.monotonic() - t0:.3f} s"
    _SERVER.append(server)
    yield server
    server.close()


@pytest.fixture
def make_account(dc, request):
    made: list = []

    def make(addr: str, password: str, displayname=None, **kw) -> dcpeer.DcAccount:
        acc = dc.make_account(addr, password, displayname, **kw)
        made.append(acc)
        return acc

    yield make
    failed = any(getattr(getattr(request.node, f"rep_{w}", None), "failed", False)
                 for w in ("setup", "call"))
    if failed:
        print(f"deltachat-rpc-server log (accounts' Info/Warning/Error events): {dc.log_path}")
        for acc in made:
            warn = [e.get("msg", "") for e in acc.events if e.get("kind") in ("Warning", "Error")]
            if warn:
                print(f"{acc.addr} (account {acc.id}) warnings/errors:\n  " + "\n  ".join(warn[-10:]))
    for acc in made:
        try:
            acc.stop_io()
            dc.rpc.remove_account(acc.id)
        except Exception as e:  # the server may be gone already; the test result stands
            print(f"cleanup of {acc}: {e}")


@pytest.fixture
def timings() -> dict:
    return _TIMINGS


def pytest_terminal_summary(terminalreporter):
    if _SERVER:
        terminalreporter.write_line(
            f"Delta Chat core {_SERVER[0].version} ({_SERVER[0].binary}); log: {_SERVER[0].log_path}")
    for k, v in _TIMINGS.items():
        terminalreporter.write_line(f"timing: {k}: {v}")


# --------------------------------------------------------------------------------------------
# The real coi-bridge binary (test_bridge_deltachat.py)
#
#   new_user      new_user(prefix="u", password="pw") -> (address, password): a fresh stack user
#                 (scripts/stack add-user), so every test starts with empty mailboxes
#   make_bridge   make_bridge(identity="puppet", start=True) -> Bridge: a fresh database on
#                 COIBRIDGE_TEST_PG_URL, a fresh bridge mail account, a coi-bridge config with a
#                 COI connector "mail" for it and a spool connector "spool" in a temp dir; the
#                 binary ($COIBRIDGE_BINARY) is started and /ready awaited. At the end of the
#                 test it is stopped with SIGTERM, which must exit 0, and the database dropped.
#   bridge        make_bridge() with the defaults
#
# Environment: COIBRIDGE_BINARY (the coi-bridge executable; ctest sets it),
# COIBRIDGE_TEST_PG_URL (libpq conninfo of an admin connection; scripts/test sets it).

REPO = Path(__file__).resolve().parents[3]
ADMIN_TOKEN = "e2e-deltachat-" + "t" * 40


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _psql_binary() -> str:
    p = shutil.which("psql")
    if p:
        return p
    cands = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"),
                   key=lambda x: int(x.parts[-3]) if x.parts[-3].isdigit() else 0)
    if not cands:
        pytest.fail("psql not found (PATH or /usr/lib/postgresql/*/bin)", pytrace=False)
    return str(cands[-1])


def psql(conninfo: str, sql: str) -> str:
    """Runs one SQL statement with psql; returns its unaligned, tuples-only output."""
    r = subprocess.run([_psql_binary(), conninfo, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-c", sql], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"psql failed ({r.returncode}) on {sql!r}: {r.stderr.strip()}")
    return r.stdout.strip()


def _stack_add_user(stack: dcpeer.StackEnv, name: str, password: str) -> str:
    r = subprocess.run([str(REPO / "scripts" / "stack"), "add-user", str(stack.dir), name, password],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"scripts/stack add-user {name} failed: {r.stderr.strip() or r.stdout.strip()}")
    return stack.addr(name)


@pytest.fixture
def new_user(stack):
    def make(prefix: str = "u", password: str = "pw") -> tuple:
        name = f"{prefix}{random.randrange(10**8):08d}"
        return _stack_add_user(stack, name, password), password
    return make


class Bridge:
    """One coi-bridge process with its own database, mail account and spool directories.

    Spool side: `drop(name, event)` puts an event file into the inbox (written under a
    temporary name, then renamed, so the connector never reads half a file);
    `outbox()` lists the delivered files as (file name, JSON) in deliveries.log order;
    `deliveries_log()` is that log's lines."""

    def __init__(self, stack: dcpeer.StackEnv, workdir: Path, binary: str, conninfo: str,
                 address: str, password: str, identity: str = "puppet",
                 smtp_port: Optional[int] = None, delivery_extra: str = ""):
        self.stack = stack
        self.smtp_port = smtp_port or stack.submission_port  # another port: a TcpGate to it
        self.delivery_extra = delivery_extra  # more keys of the delivery section, indented by two
        self.dir = workdir
        self.binary = binary
        self.conninfo = conninfo
        self.address = address
        self.password = password
        self.identity = identity
        self.port = _free_port()
        self.inbox = workdir / "in"
        self.outbox_dir = workdir / "out"
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "config.yaml"
        self.log_path = workdir / "bridge.log"
        self.proc: Optional[subprocess.Popen] = None
        self.exit_codes: list = []
        self._write_config()

    # ---- configuration and process

    def _write_config(self) -> None:
        s = self.stack
        q = json.dumps  # a JSON string is a YAML double-quoted scalar

        def server(port: int) -> str:
            return (f"{{host: localhost, port: {port}, tls: starttls, ca_file: {q(str(s.ca_file))}, "
                    f"username: {q(self.address)}, password: {q(self.password)}}}")

        self.config_path.write_text(
            "database:\n"
            f"  url: {q(self.conninfo)}\n"
            "http:\n"
            f"  listen: 127.0.0.1:{self.port}\n"
            "admin:\n"
            "  tokens:\n"
            f"    - {{name: e2e, token: {q(ADMIN_TOKEN)}, scopes: [write]}}\n"
            "logging:\n"
            "  level: debug\n"
            "delivery:\n"
            "  backoff_initial_ms: 50\n"
            "  backoff_max_ms: 500\n"
            f"{self.delivery_extra}"
            "connectors:\n"
            "  spool:\n"
            f"    - {{name: spool, inbox_dir: {q(str(self.inbox))}, outbox_dir: {q(str(self.outbox_dir))}}}\n"
            "  coi:\n"
            "    - name: mail\n"
            f"      address: {q(self.address)}\n"
            f"      identity: {self.identity}\n"
            f"      imap: {server(s.imap_port)}\n"
            f"      smtp: {server(self.smtp_port)}\n"
        )

    def start(self, timeout: float = 60) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = open(self.log_path, "ab")
        with log:
            self.proc = subprocess.Popen([self.binary, "run", "--config", str(self.config_path)],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"coi-bridge exited with {self.proc.returncode} before it was "
                                     f"ready:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError) as e:
                last = e
            time.sleep(0.05)
        raise AssertionError(f"coi-bridge not ready on port {self.port} within {timeout}s ({last}):\n"
                             f"{self.log_tail()}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Sends sig and waits; returns the exit code (negative: killed by that signal)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError(f"coi-bridge did not exit within {timeout}s after signal {sig}:\n"
                                     f"{self.log_tail()}")
        self.exit_codes.append(self.proc.returncode)
        return self.proc.returncode

    def kill(self) -> int:
        return self.stop(signal.SIGKILL)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    # ---- REST API

    def api(self, method: str, path: str, body: Optional[dict] = None) -> tuple:
        """(status, parsed JSON body or None)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def link(self, mail_conversation: str, spool_conversation: str, name: str = "e2e") -> int:
        """A new bridge linking mail:<mail_conversation> and spool:<spool_conversation>; its id."""
        status, b = self.api("POST", "/api/v1/bridges", {"name": name})
        assert status == 201, (status, b)
        bid = b["id"]
        for connector, remote_id in (("mail", mail_conversation), ("spool", spool_conversation)):
            status, body = self.api("POST", f"/api/v1/bridges/{bid}/links",
                                    {"connector": connector, "remote_id": remote_id})
            assert status == 201, (connector, remote_id, status, body)
        return bid

    def sql(self, query: str) -> str:
        return psql(self.conninfo, query)

    # ---- addresses

    def puppet_address(self, connector: str, remote_id: str) -> str:
        """connectors/coi/coi_addresses.cpp: <local>+<connector>.<escaped id>@<domain>, where
        [a-z0-9] stay and every other byte is "=" plus two lower-case hex digits."""
        local, domain = self.address.split("@", 1)
        esc = "".join(chr(b) if (0x61 <= b <= 0x7A or 0x30 <= b <= 0x39) else f"={b:02x}"
                      for b in remote_id.encode())
        return f"{local}+{connector}.{esc}@{domain}"

    # ---- spool

    def drop(self, name: str, event: dict) -> Path:
        """Puts event into the spool inbox as <name>.json (atomically)."""
        final = self.inbox / f"{name}.json"
        tmp = self.inbox / f".{name}.json.part"
        tmp.write_text(json.dumps(event))
        os.rename(tmp, final)
        return final

    def deliveries_log(self) -> list:
        try:
            return self.outbox_dir.joinpath("deliveries.log").read_text().splitlines()
        except FileNotFoundError:
            return []

    def outbox(self) -> list:
        """[(file name, parsed JSON)] of the delivered files, in the order deliveries.log first
        names them; files the log does not name (there should be none) come last."""
        files = {p.name: p for p in self.outbox_dir.glob("*.json")}
        order: list = []
        for line in self.deliveries_log():
            parts = line.split(" ")
            ev = parts[0]
            for fname in sorted(files):
                if fname.startswith(ev + "--") and fname not in order:
                    order.append(fname)
        order += sorted(set(files) - set(order))
        out = []
        for fname in order:
            try:
                out.append((fname, json.loads(files[fname].read_text())))
            except FileNotFoundError:
                continue
        return out

    def marker_to(self, acc, room: str = "room") -> dcpeer.Msg:
        """Drops a marker message of Rita into the spool conversation `room`, after what the
        test checks, and waits until acc has it. The bridge delivers a conversation's queue in
        order and Delta Chat fetches its mailbox in order, so whatever the bridge sent acc
        before has reached acc by then, and what is missing now never comes. Returns the
        marker as acc received it."""
        key = uuid.uuid4().hex[:12]
        text = f"marker {key}"
        self.drop(f"marker-{key}", {"where": {"remote_id": room},
                                    "who": {"connector": "spool", "remote_id": "rita", "display_name": "Remote Rita"},
                                    "origin": {"remote_id": f"marker-{key}"},
                                    "payload": {"kind": "message.posted", "body": {"text": text}}})
        return acc.wait_for_message(text=text)

    def outbox_through_marker(self, send_marker: Callable[[str], object],
                              timeout: float = dcpeer.DEFAULT_TIMEOUT) -> list:
        """outbox() once a marker has come through: `send_marker(text)` sends a message along
        the path under test, after everything the test checks. The bridge publishes a mailbox
        in order and delivers to a conversation in order, so once the marker is in the spool
        whatever was sent before it has been delivered too, and what is missing now never
        comes. Returns the deliveries other than the marker."""
        marker = f"marker {uuid.uuid4().hex[:12]}"

        def is_marker(d: dict) -> bool:
            return d["event"]["payload"].get("body", {}).get("text") == marker

        send_marker(marker)
        self.wait_outbox(1, timeout, pred=is_marker)
        return [(f, d) for f, d in self.outbox() if not is_marker(d)]

    def wait_outbox(self, n: int, timeout: float = dcpeer.DEFAULT_TIMEOUT,
                    pred: Optional[Callable] = None) -> list:
        """Until at least n delivered files (matching pred(event json), if given) are there;
        returns those."""
        deadline = time.monotonic() + timeout
        while True:
            got = [(f, d) for f, d in self.outbox() if pred is None or pred(d)]
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(got)} of {n} spool deliveries after {timeout}s; outbox: "
                    f"{[d['event']['payload'] for _, d in self.outbox()]}\n"
                    f"coi-bridge log tail:\n{self.log_tail(40)}")
            time.sleep(0.02)


def _bridge_binary() -> str:
    b = os.environ.get("COIBRIDGE_BINARY")
    if not b:
        pytest.fail("COIBRIDGE_BINARY is not set: point it at the coi-bridge executable "
                    "(ctest sets it; by hand: COIBRIDGE_BINARY=build/coi-bridge)", pytrace=False)
    if not os.access(b, os.X_OK):
        pytest.fail(f"COIBRIDGE_BINARY={b} is not an executable file", pytrace=False)
    return b


def _pg_admin() -> str:
    url = os.environ.get("COIBRIDGE_TEST_PG_URL")
    if not url:
        pytest.fail("COIBRIDGE_TEST_PG_URL is not set: start a server with "
                    "`export COIBRIDGE_TEST_PG_URL=$(scripts/pg-server start DIR)` "
                    "(scripts/test does)", pytrace=False)
    return url


@pytest.fixture
def make_bridge(stack, new_user, tmp_path, request):
    binary = _bridge_binary()
    admin = _pg_admin()
    made: list = []
    dbs: list = []

    def make(identity: str = "puppet", start: bool = True, **kw) -> Bridge:
        db = f"dcbridge_{os.getpid()}_{random.randrange(10**9)}"
        psql(admin, f'CREATE DATABASE "{db}"')
        dbs.append(db)
        address, password = new_user("br", "bridgepw")
        work = tmp_path / f"bridge{len(made)}"
        b = Bridge(stack, work, binary, f"{admin} dbname={db}", address, password, identity, **kw)
        made.append(b)
        if start:
            b.start()
        return b

    yield make

    failed = any(getattr(getattr(request.node, f"rep_{w}", None), "failed", False)
                 for w in ("setup", "call"))
    problems = []
    for b in made:
        if failed:
            print(f"---- coi-bridge log ({b.log_path}), last 150 lines ----\n{b.log_tail(150)}\n----")
        if b.running:
            rc = b.stop(signal.SIGTERM)
            if rc != 0:
                problems.append(f"coi-bridge ({b.address}) exited with {rc} on SIGTERM:\n{b.log_tail(30)}")
    for db in dbs:
        try:
            psql(admin, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        except AssertionError as e:
            print(f"cleanup: {e}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def bridge(make_bridge) -> Bridge:
    return make_bridge()
