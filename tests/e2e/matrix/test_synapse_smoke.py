"""The test homeserver itself: Synapse from scripts/synapse serves two ordinary users and an
application service the way the bridge will need it. Later Matrix tests build on this; if
this file fails, the problem is the homeserver setup, not the bridge."""

from __future__ import annotations

import time


def test_two_users_talk(new_user, timings):
    alice = new_user("alice")
    bob = new_user("bob")
    t0 = time.monotonic()
    room = alice.create_room(name="smoke", invite=[bob.user_id])
    # Room version 12 (Synapse's default): room ids no longer name a server, so nothing may
    # parse a domain out of them.
    assert room.startswith("!") and ":" not in room, room
    assert bob.wait_for_invite(room) == room
    bob.join(room)
    eid = alice.send_text(room, "hello bob ü")
    msg = bob.wait_for_message(room_id=room, sender=alice.user_id)
    timings["room, invite, join, message received"] = f"{(time.monotonic() - t0) * 1000:.0f} ms"
    assert (msg.event_id, msg.body, msg.msgtype) == (eid, "hello bob ü", "m.text")
    assert msg.sender == alice.user_id


def test_appservice_user_and_transactions(new_user, appservice, as_recorder, synapse):
    alice = new_user("alice")
    ghost = appservice.register_user(f"{appservice.user_prefix}test")
    assert ghost == f"@{appservice.user_prefix}test:{synapse.server_name}"
    # Outside its namespace the application service may not make users.
    status, body = appservice.api("POST", "/_matrix/client/v3/register",
                                  {"type": "m.login.application_service", "username": "outsider"})
    assert status == 400 and body.get("errcode") == "M_EXCLUSIVE", (status, body)
    status, body = appservice.api("GET", "/_matrix/client/v3/account/whoami")
    assert status == 200 and body["user_id"] == appservice.sender, body

    room = alice.create_room(name="bridged", invite=[ghost])
    assert appservice.join(room, ghost) == room
    eid = alice.send_text(room, "to the bridge")

    txn, ev = as_recorder.wait_for_event(lambda e: e.get("event_id") == eid,
                                         "transaction with alice's message")
    assert txn.method == "PUT"
    assert txn.headers.get("authorization") == f"Bearer {appservice.hs_token}"
    # Synapse 1.163 sends the hs_token in the header only: the ?access_token= copy is gone
    # unless the homeserver sets use_appservice_legacy_authorization (deprecated).
    assert "access_token" not in txn.query, txn.query
    assert txn.headers.get("content-type", "").startswith("application/json")
    assert txn.txn_id and txn.txn_id.isdigit(), txn.path
    assert ev["type"] == "m.room.message" and ev["sender"] == alice.user_id
    assert ev["room_id"] == room and ev["content"] == {"msgtype": "m.text", "body": "to the bridge"}
    # receive_ephemeral: true gives the stable "ephemeral" key (and to-device under its
    # unstable name); the MSC2409 key comes only with de.sorunome.msc2409.push_ephemeral.
    assert "ephemeral" in txn.body and "de.sorunome.msc2409.ephemeral" not in txn.body, txn.body.keys()
    assert "de.sorunome.msc2409.to_device" in txn.body, txn.body.keys()
    # Transaction ids count 1, 2, 3 ... per application service (no id repeats here: every
    # transaction was acknowledged); events carry the legacy top-level "age" and "user_id"
    # besides "unsigned".
    ids = [int(t.txn_id) for t in as_recorder.transactions()]
    assert ids == list(range(1, len(ids) + 1)), ids
    assert {"age", "user_id", "unsigned", "origin_server_ts"} <= set(ev), sorted(ev)

    # Typing reaches the application service as an ephemeral event of the room.
    alice.typing(room, True)
    typing_txn = as_recorder.wait_for(
        lambda r: r.txn_id is not None and any(e.get("type") == "m.typing" and e.get("room_id") == room
                                               for e in (r.body or {}).get("ephemeral", [])),
        "m.typing in ephemeral")
    typing = next(e for e in typing_txn.body["ephemeral"] if e.get("type") == "m.typing")
    assert alice.user_id in typing["content"]["user_ids"], typing

    # The other direction: the application service speaks as its user, alice reads it.
    reply = appservice.send_text(room, "from the bridge", ghost)
    msg = alice.wait_for_message(room_id=room, sender=ghost)
    assert (msg.event_id, msg.body) == (reply, "from the bridge")


def test_500_messages_are_not_rate_limited(new_user, appservice, as_recorder, timings):
    """A burst like the bridge's backlog after an outage: an ordinary user and a masqueraded
    application-service user each send 500 messages back to back, with no 429."""
    n = 500
    alice = new_user("alice")
    ghost = appservice.register_user(f"{appservice.user_prefix}burst")
    room = alice.create_room(name="burst", invite=[ghost])
    appservice.join(room, ghost)

    t0 = time.monotonic()
    alice_ids = alice.send_many(room, [f"a{i}" for i in range(n)])
    t1 = time.monotonic()
    ghost_ids = appservice.send_many(room, [f"g{i}" for i in range(n)], ghost)
    t2 = time.monotonic()
    timings[f"{n} messages, user (8 in flight)"] = f"{t1 - t0:.1f} s"
    timings[f"{n} messages, appservice user (8 in flight)"] = f"{t2 - t1:.1f} s"
    assert len(set(alice_ids)) == n and len(set(ghost_ids)) == n

    want = set(alice_ids)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        got = {e.get("event_id") for e in as_recorder.events()} & want
        if got == want:
            break
        time.sleep(0.2)
    missing = want - {e.get("event_id") for e in as_recorder.events()}
    assert not missing, f"{len(missing)} of alice's {n} messages never reached the appservice"
    timings[f"{n} messages pushed to the appservice"] = f"{time.monotonic() - t0:.1f} s after the first send"
    sizes = [len((t.body or {}).get("events", [])) for t in as_recorder.transactions()]
    timings["events per transaction (max)"] = str(max(sizes))
