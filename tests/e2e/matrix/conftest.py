"""Fixtures for the Matrix end-to-end tests: a Synapse of their own, started through
scripts/synapse in a temporary directory for the session and always stopped at its end.

Run with the Matrix venv (scripts/matrix-venv):
  .cache/matrix-venv/bin/python -m pytest -x -q tests/e2e/matrix

  as_recorder  TransactionRecorder: the stand-in application service Synapse pushes to
  appservice   AppService registered with that Synapse (exclusive users @_coi_.*, sender
               @_coi_bot, receive_ephemeral), its url pointing at as_recorder
  synapse      HsEnv of the running server (session); its log is printed if a test failed
  hs           Homeserver: register users, run their clients (session)
  new_user     new_user(prefix="u") -> MxUser: a fresh account with a unique name
  timings      a dict; what tests put in it is printed at the end of the run

Environment: SYNAPSE_PORT (default: a free port, so a developer's own Synapse on 10808 does
not get in the way), MXPEER_TIMEOUT (seconds for every wait, default 30), MATRIX_WORKDIR (the
server's directory; default a pytest temporary directory).
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mxbridge  # noqa: E402
import mxpeer  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
SERVER_NAME = "matrix.test"
_TIMINGS: dict = {}
_FAILED: list = []
_LOGS: list = []
_BRIDGE_SETUP: list = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        _FAILED.append(item.nodeid)


@pytest.fixture(scope="session")
def as_recorder():
    rec = mxpeer.TransactionRecorder()
    yield rec
    rec.close()


@pytest.fixture(scope="session")
def appservice(synapse_parts):
    return synapse_parts[1]


@pytest.fixture(scope="session")
def synapse(synapse_parts) -> mxpeer.HsEnv:
    return synapse_parts[0]


@pytest.fixture(scope="session")
def synapse_parts(as_recorder, tmp_path_factory):
    workdir = os.environ.get("MATRIX_WORKDIR")
    workdir = Path(workdir) if workdir else tmp_path_factory.mktemp("synapse")
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("SYNAPSE_PORT", str(mxpeer.free_port()))
    env["SYNAPSE_SERVER_NAME"] = SERVER_NAME
    # The interpreter running these tests is the one from .cache/matrix-venv: Synapse runs on
    # the same, and scripts/synapse need not check the venv again.
    env["SYNAPSE_PYTHON"] = sys.executable
    # The registration needs the homeserver's URL only for the HsEnv it carries; the server
    # itself is started with the file, so its tokens are fixed before the server exists.
    hs_url = f"http://127.0.0.1:{env['SYNAPSE_PORT']}"
    # The stand-in appservice's namespace must not overlap the bridge's exclusive @_coi_.*.
    app = mxpeer.AppService(mxpeer.HsEnv(hs_url, SERVER_NAME, ""), sender_localpart="_rec_bot", user_prefix="_rec_")
    reg = app.write_registration(workdir / "appservice-coi-test.yaml", as_recorder.url)
    registrations = [str(reg)]
    # With the coi-bridge binary at hand, the homeserver also loads the bridge's registration,
    # written by the binary itself.
    setup = None
    binary = os.environ.get("COIBRIDGE_BINARY")
    if binary:
        port = mxpeer.free_port(avoid=[int(env["SYNAPSE_PORT"])])
        setup = mxbridge.BridgeSetup(binary, workdir, port, hs_url, SERVER_NAME)
        setup.generate_registration()
        registrations.append(str(setup.registration))
    _BRIDGE_SETUP.append(setup)
    _LOGS.append(workdir / "homeserver.log")
    try:
        out = mxpeer.synapse_script("up", str(workdir), *registrations, env=env)
        m = re.search(r"in (\d+) ms, RSS (.*)$", out.strip().splitlines()[-1])
        if m:
            _TIMINGS["synapse start"] = f"{m.group(1)} ms (RSS {m.group(2)} after start)"
        hs_env = mxpeer.HsEnv.from_file(workdir / "env.sh")
        app.env = hs_env
        yield hs_env, app
    finally:
        status = subprocess.run([str(REPO / "scripts" / "synapse"), "status", str(workdir)],
                                capture_output=True, text=True, env=env)
        m = re.search(r"RSS (.*)$", status.stdout.strip())
        if m:
            _TIMINGS["synapse RSS at the end"] = m.group(1)
        down = mxpeer.synapse_script("down", str(workdir), env=env)
        _TIMINGS["synapse stop"] = down.strip().rsplit(" in ", 1)[-1]


@pytest.fixture(scope="session")
def hs(synapse):
    h = mxpeer.Homeserver(synapse)
    yield h
    h.close()


@pytest.fixture
def new_user(hs):
    def make(prefix: str = "u", displayname=None) -> mxpeer.MxUser:
        return hs.register(f"{prefix}{random.randrange(10**8):08d}", displayname=displayname)
    return make


@pytest.fixture
def timings() -> dict:
    return _TIMINGS


@pytest.fixture(scope="session")
def log_on_failure():
    """log_on_failure(path): the end of that log is printed after the run when a test failed
    (as the session homeserver's is)."""
    return _LOGS.append


def pytest_terminal_summary(terminalreporter):
    for k, v in _TIMINGS.items():
        terminalreporter.write_line(f"timing: {k}: {v}")
    if _FAILED:
        for log in _LOGS:
            try:
                tail = log.read_text(errors="replace").splitlines()[-80:]
            except OSError:
                continue
            terminalreporter.write_line(f"---- last 80 lines of {log} ----")
            for line in tail:
                terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def bridge_setup(synapse_parts) -> mxbridge.BridgeSetup:
    setup = _BRIDGE_SETUP[-1] if _BRIDGE_SETUP else None
    if setup is None:
        pytest.fail("COIBRIDGE_BINARY is not set: the bridge tests need the coi-bridge binary", pytrace=False)
    return setup


def _pg_admin() -> str:
    url = os.environ.get("COIBRIDGE_TEST_PG_URL")
    if not url:
        pytest.fail("COIBRIDGE_TEST_PG_URL is not set (scripts/test exports it)", pytrace=False)
    return url


@pytest.fixture
def make_bridge(bridge_setup, tmp_path, request):
    """make_bridge(start=True, registration=None, mail=None, matrix_extra="", more_matrix=()) ->
    MxBridge with a fresh database (matrix_extra: more keys of the Matrix connector's entry,
    indented by six; more_matrix: BridgeSetups of more Matrix connectors in the same process).
    One runs at a time: they share the port the homeserver's registration names."""
    admin = _pg_admin()
    made: list = []
    dbs: list = []

    def make(start: bool = True, registration=None, mail=None, matrix_extra: str = "",
             more_matrix=()) -> mxbridge.MxBridge:
        db = f"mxbridge_{os.getpid()}_{random.randrange(10**9)}"
        mxbridge.psql(admin, f'CREATE DATABASE "{db}"')
        dbs.append(db)
        b = mxbridge.MxBridge(bridge_setup, tmp_path / f"bridge{len(made)}", f"{admin} dbname={db}", registration,
                              mail, matrix_extra, more_matrix)
        made.append(b)
        if start:
            b.start()
        return b

    yield make

    for b in made:
        if _FAILED and request.node.nodeid in _FAILED:
            print(f"---- coi-bridge log ({b.log_path}), last 150 lines ----\n{b.log_tail(150)}\n----")
        if b.running:
            b.stop()
    for db in dbs:
        if os.environ.get("MXBRIDGE_KEEP_DB"):  # for a look after the run
            print(f"kept database {db}")
            continue
        try:
            mxbridge.psql(admin, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        except AssertionError as e:
            print(f"cleanup: {e}")


@pytest.fixture
def bridge(make_bridge) -> mxbridge.MxBridge:
    return make_bridge()


# ---- The mail side: the stack from scripts/stack (STACK_* variables) and Delta Chat core, for
# the tests that cross Matrix and mail. The helpers are tests/e2e/deltachat's.

sys.path.insert(0, str(REPO / "tests" / "e2e" / "deltachat"))
import dcpeer  # noqa: E402


@pytest.fixture(scope="session")
def stack() -> "dcpeer.StackEnv":
    try:
        return dcpeer.StackEnv.from_env()
    except dcpeer.StackEnvMissing as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def dc(stack, tmp_path_factory):
    server = dcpeer.DeltaChatServer(stack, tmp_path_factory.mktemp("deltachat"))
    yield server
    server.close()


@pytest.fixture
def mail_user(stack):
    """mail_user(prefix) -> (address, password) of a fresh stack account."""
    def make(prefix: str = "u", password: str = "pw") -> tuple:
        name = f"{prefix}{random.randrange(10**8):08d}"
        r = subprocess.run([str(REPO / "scripts" / "stack"), "add-user", str(stack.dir), name, password],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise AssertionError(f"scripts/stack add-user {name} failed: {r.stderr.strip() or r.stdout.strip()}")
        return stack.addr(name), password
    return make


@pytest.fixture
def dc_account(dc, mail_user):
    made: list = []

    def make(displayname: str) -> "dcpeer.DcAccount":
        addr, password = mail_user("dc")
        acc = dc.make_account(addr, password, displayname)
        made.append(acc)
        return acc

    yield make
    for acc in made:
        try:
            acc.stop_io()
            dc.rpc.remove_account(acc.id)
        except Exception as e:  # the server may be gone already; the test result stands
            print(f"cleanup of {acc}: {e}")


@pytest.fixture
def mail_bridge(make_bridge, stack, mail_user) -> mxbridge.MxBridge:
    """A bridge with the Matrix connector, a spool, and a COI connector "mail" for a fresh
    stack account (the dm_connector of the Matrix side)."""
    address, password = mail_user("br", "bridgepw")
    return make_bridge(mail=mxbridge.MailAccount(stack, address, password))
