"""Fixtures for the Delta Chat end-to-end tests.

Run with the e2e venv (scripts/e2e-venv) against a running stack (scripts/stack up DIR, then
`. DIR/env.sh`). Without the STACK_* variables every test fails with a message saying so: these
tests are never skipped.

  stack         StackEnv from the STACK_* variables (session)
  dc            one deltachat-rpc-server process for the session (DeltaChatServer)
  make_account  make_account(addr, password, displayname=None, **kw) -> DcAccount; the
                accounts a test makes are taken offline and removed after it
  timings       a dict; what tests put in it is printed at the end of the run

Environment: DCPEER_TIMEOUT (seconds for every wait, default 30), DCPEER_WORKDIR (where the
accounts and the server log go; default a pytest temporary directory), DC_RPC_SERVER (another
deltachat-rpc-server binary).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

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
