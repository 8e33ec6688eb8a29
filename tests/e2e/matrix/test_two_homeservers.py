"""One coi-bridge process as the application service of two Synapse servers.

Two homeservers with their own server names run side by side (scripts/synapse with its own
port and directory each); the bridge has two Matrix connectors, "hs-a" and "hs-b", one per
homeserver, each with its own registration, and both on the bridge's one HTTP port; a spool
connector "spool" is the network on the other side. Each homeserver's transactions must reach
its own connector: a user on either homeserver gets through, nothing is refused, and one
bridge relays between rooms on both homeservers and the spool.
"""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass

import pytest

import mxbridge
import mxpeer
from mxbridge import spool_text
from mxpeer import ghost_of

# Connector name -> the server name of its homeserver.
SERVERS = {"hs-a": "a.matrix.test", "hs-b": "b.matrix.test"}
REJECTED = "coibridge_matrix_rejected_requests_total"


def token() -> str:
    return uuid.uuid4().hex[:8]


def spool_message(text: str, origin: str, room: str) -> dict:
    return {
        "where": {"remote_id": room},
        "who": {"connector": "spool", "remote_id": "rita", "display_name": "Remote Rita"},
        "origin": {"remote_id": origin},
        "payload": {"kind": "message.posted", "body": {"text": text}},
    }


@dataclass
class Side:
    """One homeserver and the bridge's Matrix connector for it."""

    setup: mxbridge.BridgeSetup
    hs: mxpeer.Homeserver

    @property
    def connector(self) -> str:
        return self.setup.name

    @property
    def server_name(self) -> str:
        return self.setup.server_name

    @property
    def bot(self) -> str:
        return f"@coibridge:{self.server_name}"

    def user(self, prefix: str) -> mxpeer.MxUser:
        return self.hs.register(f"{prefix}{token()}")


@pytest.fixture(scope="module")
def sides(tmp_path_factory, log_on_failure):
    """Both homeservers, each started with the registration of its connector, written by
    `coi-bridge generate-registration` before the server starts."""
    binary = os.environ.get("COIBRIDGE_BINARY")
    if not binary:
        pytest.fail("COIBRIDGE_BINARY is not set: the bridge tests need the coi-bridge binary", pytrace=False)
    bridge_port = mxpeer.free_port()
    taken = [bridge_port]
    started: list = []
    made: dict = {}
    try:
        for name, server_name in SERVERS.items():
            workdir = tmp_path_factory.mktemp(name)
            hs_port = mxpeer.free_port(avoid=taken)
            taken.append(hs_port)
            setup = mxbridge.BridgeSetup(binary, workdir, bridge_port, f"http://127.0.0.1:{hs_port}", server_name,
                                         name=name)
            setup.generate_registration()
            env = dict(os.environ, SYNAPSE_PORT=str(hs_port), SYNAPSE_SERVER_NAME=server_name,
                       SYNAPSE_PYTHON=sys.executable)
            log_on_failure(workdir / "homeserver.log")
            started.append((workdir, env))
            mxpeer.synapse_script("up", str(workdir), str(setup.registration), env=env)
            made[name] = Side(setup, mxpeer.Homeserver(mxpeer.HsEnv.from_file(workdir / "env.sh")))
        yield made
    finally:
        for side in made.values():
            side.hs.close()
        for workdir, env in started:
            mxpeer.synapse_script("down", str(workdir), env=env)


@pytest.fixture(scope="module")
def bridge_setup(sides) -> mxbridge.BridgeSetup:
    """The first Matrix connector of the bridges make_bridge starts (conftest's is for the
    session's single homeserver)."""
    return sides["hs-a"].setup


@pytest.fixture
def bridge(make_bridge, sides) -> mxbridge.MxBridge:
    return make_bridge(more_matrix=[sides["hs-b"].setup])


def room_with_bot(side: Side, user: mxpeer.MxUser, bridge: mxbridge.MxBridge) -> str:
    """A room `user` made on their homeserver with that homeserver's bridge bot invited: the
    bot joins by itself once the invite has reached its connector."""
    room = user.create_room(name=f"room {token()}", invite=[side.bot])
    user.wait_joined(room, side.bot, context=bridge.log_tail)
    return room


def test_each_homeserver_reaches_its_own_connector(bridge, sides):
    a, b = sides["hs-a"], sides["hs-b"]
    alice, bob = a.user("alice"), b.user("bob")
    room_a = room_with_bot(a, alice, bridge)
    room_b = room_with_bot(b, bob, bridge)
    bridge.link_pair((a.connector, room_a), ("spool", "conv-a"))
    bridge.link_pair((b.connector, room_b), ("spool", "conv-b"))
    tok = token()
    alice.send_text(room_a, f"alice on A {tok}")
    bob.send_text(room_b, f"bob on B {tok}")

    out = bridge.wait_outbox(2)
    got = {spool_text(d): (d["event"]["who"]["connector"], d["event"]["who"]["remote_id"],
                           d["event"]["where"], d["target"]) for d in out}
    assert got == {
        f"alice on A {tok}": ("hs-a", alice.user_id, {"connector": "hs-a", "remote_id": room_a},
                              {"connector": "spool", "remote_id": "conv-a"}),
        f"bob on B {tok}": ("hs-b", bob.user_id, {"connector": "hs-b", "remote_id": room_b},
                            {"connector": "spool", "remote_id": "conv-b"}),
    }
    assert bridge.metric(REJECTED) == 0


def test_one_bridge_relays_between_rooms_on_both_homeservers_and_the_spool(bridge, sides):
    a, b = sides["hs-a"], sides["hs-b"]
    alice, bob = a.user("alice"), b.user("bob")
    room_a = room_with_bot(a, alice, bridge)
    room_b = room_with_bot(b, bob, bridge)
    bridge.link_all((a.connector, room_a), (b.connector, room_b), ("spool", "conv-ab"))
    tok = token()

    # The spool to both homeservers: each user sees the message from Rita's ghost on their own
    # homeserver.
    bridge.drop("001", spool_message(f"hello both {tok}", f"s-{tok}", "conv-ab"))
    for side, user, room in ((a, alice, room_a), (b, bob, room_b)):
        m = user.wait_for_message(room_id=room, body=f"hello both {tok}")
        assert m.sender == ghost_of("rita", side.server_name, connector="spool")
        assert user.hs.run(user.client.get_displayname(m.sender)).displayname == "Remote Rita"

    # From one homeserver to the other (and the spool): Alice's message reaches Bob from her
    # ghost on B, Bob's reaches Alice from his ghost on A; each ghost names the network of the
    # person it stands for.
    alice.send_text(room_a, f"alice to bob {tok}")
    m = bob.wait_for_message(room_id=room_b, body=f"alice to bob {tok}")
    assert m.sender == ghost_of(alice.user_id, b.server_name, connector="hs-a")
    bob.send_text(room_b, f"bob to alice {tok}")
    m = alice.wait_for_message(room_id=room_a, body=f"bob to alice {tok}")
    assert m.sender == ghost_of(bob.user_id, a.server_name, connector="hs-b")

    out = bridge.wait_outbox(2)
    assert sorted((spool_text(d), d["event"]["who"]["connector"], d["target"]["remote_id"]) for d in out) == [
        (f"alice to bob {tok}", "hs-a", "conv-ab"), (f"bob to alice {tok}", "hs-b", "conv-ab")]
    assert bridge.metric(REJECTED) == 0
