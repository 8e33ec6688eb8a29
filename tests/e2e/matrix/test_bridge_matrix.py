"""coi-bridge as the application service of a real Synapse.

Every test runs the real binary (its registration written by `coi-bridge
generate-registration` and loaded by Synapse at start) with a Matrix connector "matrix" and a
spool connector "spool", links a Matrix room with a spool conversation through the REST API,
and checks both directions with matrix-nio as the human client.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import datetime, timezone

import pytest

import mxpeer
from mxpeer import make_png


def token() -> str:
    return uuid.uuid4().hex[:8]


def spool_message(text: str, origin: str, *, who: str = "rita", name: str = "Remote Rita", room: str = "room") -> dict:
    return {
        "where": {"remote_id": room},
        "who": {"connector": "spool", "remote_id": who, "display_name": name},
        "origin": {"remote_id": origin},
        "payload": {"kind": "message.posted", "body": {"text": text}},
    }


def registration_tokens(setup) -> dict:
    text = setup.registration.read_text()
    return {k: re.search(rf"^{k}: (\S+)$", text, re.M).group(1) for k in ("as_token", "hs_token")}


def bridged_room(bridge, user, setup, spool_room: str = "room") -> str:
    """A room `user` made, with the bridge bot invited (it joins by itself) and linked to the
    spool conversation."""
    bot = f"@coibridge:{setup.server_name}"
    room = user.create_room(name=f"bridged {token()}", invite=[bot])
    user.wait_joined(room, bot, context=bridge.log_tail)
    bridge.link(room, spool_room)
    return room


def test_generate_registration_wrote_a_private_file_with_fresh_tokens(bridge_setup):
    reg = bridge_setup.registration
    assert reg.stat().st_mode & 0o777 == 0o600
    text = reg.read_text()
    tokens = registration_tokens(bridge_setup)
    assert len(tokens["as_token"]) == 64 and len(tokens["hs_token"]) == 64
    assert tokens["as_token"] != tokens["hs_token"]
    assert "id: matrix" in text and f"url: http://127.0.0.1:{bridge_setup.port}" in text
    assert "receive_ephemeral: true" in text and "rate_limited: false" in text
    assert "exclusive: true" in text and "'@_coi_.*:matrix\\.test'" in text
    # A second run must not replace the tokens the homeserver has loaded.
    with pytest.raises(AssertionError, match="exists"):
        bridge_setup.generate_registration()
    assert reg.read_text() == text


def test_wrong_hs_token_gets_403_and_nothing_is_relayed(bridge, new_user, bridge_setup):
    alice = new_user("alice")
    room = bridged_room(bridge, alice, bridge_setup)
    event = {"type": "m.room.message", "room_id": room, "sender": alice.user_id, "event_id": f"$forged{token()}",
             "origin_server_ts": int(time.time() * 1000), "content": {"msgtype": "m.text", "body": "forged"}}
    path = f"/_matrix/app/v1/transactions/forged-{token()}"
    status, body = bridge.http("PUT", path, {"events": [event]}, {"Authorization": "Bearer wrong-token"})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = bridge.http("PUT", path + "?access_token=wrong-token", {"events": [event]})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = bridge.http("PUT", path, {"events": [event]})
    assert (status, body["errcode"]) == (401, "M_UNAUTHORIZED")
    # The right token: the same request is accepted (so the refusals were about the token).
    hs_token = registration_tokens(bridge_setup)["hs_token"]
    status, body = bridge.http("GET", "/_matrix/app/v1/users/@_coi_spool_-x:matrix.test", None,
                               {"Authorization": f"Bearer {hs_token}"})
    assert status == 200, body

    # A transaction with the right token after the refused ones: once it has come through,
    # the refused ones would have too.
    def send_marker(text):
        marker = dict(event, event_id=f"$marker{token()}", content={"msgtype": "m.text", "body": text})
        status, body = bridge.http("PUT", f"{path}-marker", {"events": [marker]},
                                   {"Authorization": f"Bearer {hs_token}"})
        assert (status, body) == (200, {})

    assert bridge.outbox_through_marker(send_marker) == []
    assert bridge.sql("SELECT count(*) FROM messages") == "1"


def test_unknown_appservice_paths_and_methods(bridge, bridge_setup):
    auth = {"Authorization": f"Bearer {registration_tokens(bridge_setup)['hs_token']}"}
    assert bridge.http("GET", "/_matrix/app/v1/thirdparty/protocol/x", None, auth)[1]["errcode"] == "M_UNRECOGNIZED"
    status, body = bridge.http("GET", "/_matrix/app/v1/transactions/1", None, auth)
    assert (status, body["errcode"]) == (405, "M_UNRECOGNIZED")
    assert bridge.http("GET", "/_matrix/app/v1/users/@someone:matrix.test", None, auth)[0] == 404
    assert bridge.http("POST", "/_matrix/app/v1/ping", {"transaction_id": "t"}, auth) == (200, {})
    # Legacy unprefixed paths are served too.
    assert bridge.http("PUT", "/transactions/legacy-1", {"events": []}, auth) == (200, {})


def test_as_token_the_homeserver_does_not_know_fails_start_up(make_bridge, bridge_setup, tmp_path):
    forged = tmp_path / "forged-registration.yaml"
    text = bridge_setup.registration.read_text()
    forged.write_text(re.sub(r"^as_token: \S+$", "as_token: " + "x" * 64, text, flags=re.M))
    forged.chmod(0o600)
    b = make_bridge(start=False, registration=forged)
    b.start(expect_ready=False)
    assert b.wait_exit() == 1, b.log_tail()
    assert "does not accept the as_token" in b.log_text(), b.log_tail()
    assert str(forged) in b.log_text()


def test_hs_token_differing_from_the_homeserver_fails_start_up(make_bridge, bridge_setup, tmp_path):
    forged = tmp_path / "other-hs-token.yaml"
    text = bridge_setup.registration.read_text()
    forged.write_text(re.sub(r"^hs_token: \S+$", "hs_token: " + "y" * 64, text, flags=re.M))
    b = make_bridge(start=False, registration=forged)
    b.start(expect_ready=False)
    assert b.wait_exit() == 1, b.log_tail()
    assert "different hs_token" in b.log_text(), b.log_tail()


def test_text_crosses_both_ways_with_the_right_senders(bridge, new_user, bridge_setup, timings):
    alice = new_user("alice", displayname="Alice Matrix")
    room = bridged_room(bridge, alice, bridge_setup)
    tok = token()
    t0 = time.monotonic()
    event_id = alice.send_text(room, f"hello from matrix {tok}")
    [d] = bridge.wait_outbox(1)
    timings["Matrix send -> spool file"] = f"{(time.monotonic() - t0) * 1000:.0f} ms"
    e = d["event"]
    assert e["payload"]["body"]["text"] == f"hello from matrix {tok}"
    assert e["who"]["connector"] == "matrix" and e["who"]["remote_id"] == alice.user_id
    assert e["where"] == {"connector": "matrix", "remote_id": room}
    assert e["origin"] == {"connector": "matrix", "remote_id": event_id}
    assert d["target"] == {"connector": "spool", "remote_id": "room"}

    t0 = time.monotonic()
    bridge.drop("001", spool_message(f"hello from the spool {tok}", f"s-{tok}"))
    m = alice.wait_for_message(room_id=room, body=f"hello from the spool {tok}")
    timings["spool file -> Matrix message"] = f"{(time.monotonic() - t0) * 1000:.0f} ms"
    assert m.sender == "@_coi_spool_-rita:matrix.test"
    profile = alice.hs.run(alice.client.get_displayname(m.sender))
    assert profile.displayname == "Remote Rita"
    # A message written an hour ago (a backlog) keeps its time in the room: the bridge sends
    # it with the application service's `ts` (timestamp massaging).
    written_ms = (int(time.time()) - 3600) * 1000 + 250
    old = spool_message(f"written an hour ago {tok}", f"s-old-{tok}")
    old["at"] = datetime.fromtimestamp(written_ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    bridge.drop("002", old)
    m_old = alice.wait_for_message(room_id=room, body=f"written an hour ago {tok}")
    assert m_old.source["origin_server_ts"] == written_ms, m_old.source
    # Nothing echoed back: the ghost's message did not come back to the spool before Alice's
    # next one.
    out = bridge.outbox_through_marker(lambda text: alice.send_text(room, text))
    assert len(out) == 1, out
    assert len([m for m in alice.messages(room) if m.body == f"hello from the spool {tok}"]) == 1


def test_replayed_transaction_is_processed_once(bridge, new_user, bridge_setup):
    alice = new_user("alice")
    room = bridged_room(bridge, alice, bridge_setup)
    auth = {"Authorization": f"Bearer {registration_tokens(bridge_setup)['hs_token']}"}
    tok = token()
    event = {"type": "m.room.message", "room_id": room, "sender": alice.user_id, "event_id": f"$replay{tok}",
             "origin_server_ts": int(time.time() * 1000), "content": {"msgtype": "m.text", "body": f"once {tok}"}}
    for _ in range(2):
        status, body = bridge.http("PUT", f"/_matrix/app/v1/transactions/replay-{tok}", {"events": [event]}, auth)
        assert (status, body) == (200, {})
    # The same event in another transaction (a homeserver that lost its transaction log).
    status, _ = bridge.http("PUT", f"/_matrix/app/v1/transactions/replay-{tok}-b", {"events": [event]}, auth)
    assert status == 200
    bridge.wait_outbox(1)

    def send_marker(text):
        marker = dict(event, event_id=f"$marker{tok}", content={"msgtype": "m.text", "body": text})
        status, body = bridge.http("PUT", f"/_matrix/app/v1/transactions/marker-{tok}", {"events": [marker]}, auth)
        assert (status, body) == (200, {})

    out = bridge.outbox_through_marker(send_marker)
    assert [d["event"]["payload"]["body"]["text"] for d in out] == [f"once {tok}"]
    assert bridge.sql(f"SELECT count(*) FROM seen_inbound WHERE key LIKE 'replay-{tok}%'") == "2"


def test_garbage_transaction_is_refused_and_a_bad_event_is_a_dead_letter(bridge, new_user, bridge_setup):
    alice = new_user("alice")
    room = bridged_room(bridge, alice, bridge_setup)
    auth = {"Authorization": f"Bearer {registration_tokens(bridge_setup)['hs_token']}"}
    status, body = bridge.http("PUT", "/_matrix/app/v1/transactions/garbage", "not an object", auth)
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")
    tok = token()
    bad = {"type": "m.room.message", "room_id": room, "sender": alice.user_id, "event_id": 42, "content": {}}
    good = {"type": "m.room.message", "room_id": room, "sender": alice.user_id, "event_id": f"$good{tok}",
            "origin_server_ts": int(time.time() * 1000), "content": {"msgtype": "m.text", "body": f"after {tok}"}}
    hostile = [{"type": 5, "sender": [], "room_id": {}}, "not an event", None,
               {"type": "m.room.member", "room_id": room, "sender": 1, "state_key": 7,
                "content": {"membership": ["invite"], "displayname": 3}},
               {"type": "m.room.redaction", "room_id": room, "sender": alice.user_id, "event_id": f"$r{tok}",
                "redacts": {"x": 1}, "content": []}]
    status, _ = bridge.http("PUT", f"/_matrix/app/v1/transactions/mixed-{tok}", {"events": [bad, *hostile, good],
                                                                             "ephemeral": [5, {"type": []}]}, auth)
    assert status == 200
    [d] = bridge.wait_outbox(1)
    assert d["event"]["payload"]["body"]["text"] == f"after {tok}"
    # Each malformed room event is parked with its reason; none stops the good one.
    assert int(bridge.sql("SELECT count(*) FROM dead_letters WHERE source = 'inbound' AND connector = 'matrix'")) >= 4


# --------------------------------------------------------------------------------------------
# Replies, edits, reactions, redactions, media and receipts, both ways (issue tests 2 and 3,
# with the spool as the other network).


def spool_payload(origin: str, payload: dict, room: str = "room") -> dict:
    e = spool_message("", origin, room=room)
    e["payload"] = payload
    return e


def kinds(bridge) -> list:
    return [d["event"]["payload"]["kind"] for d in sorted(bridge.outbox(), key=lambda d: d["event"]["at"])]


def test_image_crosses_both_ways_byte_identical(bridge, new_user, bridge_setup):
    alice = new_user("alice", displayname="Alice Matrix")
    room = bridged_room(bridge, alice, bridge_setup)
    tok = token()
    png = make_png(tok)
    mxc = alice.upload(png, "image/png", f"cat-{tok}.png")
    alice.send(room, {"msgtype": "m.image", "body": f"cat-{tok}.png", "url": mxc,
                      "info": {"mimetype": "image/png", "size": len(png)}})
    [d] = bridge.wait_outbox(1)
    [att] = d["event"]["payload"]["body"]["attachments"]
    assert att["content_type"] == "image/png" and att["size"] == len(png)
    assert att["location"].startswith("blob:sha256:")
    [f] = d["files"]
    assert (bridge.outbox_dir / f["path"]).read_bytes() == png

    back = make_png(tok + "-back")
    (bridge.inbox / "back.png").write_bytes(back)
    event = spool_message(f"from the spool {tok}", f"img-{tok}")
    event["payload"]["body"]["attachments"] = [
        {"filename": "back.png", "content_type": "image/png", "size": 0, "location": "file:back.png"}]
    bridge.drop("001", event)
    image = alice.wait_for_event(lambda rid, e: rid == room and e.get("sender") == "@_coi_spool_-rita:matrix.test"
                                 and (e.get("content") or {}).get("msgtype") == "m.image", "m.image from the ghost")
    assert image["content"]["info"]["mimetype"] == "image/png"
    assert alice.download(image["content"]["url"]) == back
    text = alice.wait_for_message(room_id=room, body=f"from the spool {tok}")
    assert text.sender == "@_coi_spool_-rita:matrix.test"


def test_senders_picture_becomes_the_ghosts_avatar_and_a_new_one_replaces_it(bridge, new_user, bridge_setup):
    alice = new_user("alice", displayname="Alice Matrix")
    room = bridged_room(bridge, alice, bridge_setup)
    ghost = "@_coi_spool_-rita:matrix.test"
    tok = token()
    for n in (1, 2):
        picture = make_png(f"{tok}-face-{n}", side=16)
        (bridge.inbox / f"face{n}.png").write_bytes(picture)
        event = spool_message(f"my picture {n} {tok}", f"face-{n}-{tok}")
        event["who"]["avatar"] = f"file:face{n}.png"  # no media type: the bridge tells it from the bytes
        bridge.drop(f"00{n}", event)
        msg = alice.wait_for_message(room_id=room, body=f"my picture {n} {tok}")
        assert msg.sender == ghost
        profile = alice.hs.run(alice.client.get_profile(ghost))
        assert profile.avatar_url and profile.avatar_url.startswith("mxc://"), profile
        assert alice.download(profile.avatar_url) == picture
        assert profile.displayname == "Remote Rita"


def test_member_changes_and_a_rename_reach_the_room(bridge, new_user, bridge_setup):
    alice = new_user("alice", displayname="Alice Matrix")
    room = bridged_room(bridge, alice, bridge_setup)
    sam = {"connector": "spool", "remote_id": "sam", "display_name": "Sam Spool"}
    sam_ghost = "@_coi_spool_-sam:matrix.test"
    tok = token()

    def members() -> set:
        return {m.user_id for m in alice.hs.run(alice.client.joined_members(room)).members}

    def wait(pred, what: str) -> None:
        deadline = time.monotonic() + 30
        while not pred():
            assert time.monotonic() < deadline, f"{what}:\n{bridge.log_tail()}"
            time.sleep(0.2)

    bridge.drop("001", spool_payload(f"join-{tok}", {"kind": "member.joined", "member": sam}))
    wait(lambda: sam_ghost in members(), "Sam's ghost did not join")
    name = alice.hs.run(alice.client.get_displayname(sam_ghost))
    assert name.displayname == "Sam Spool"
    bridge.drop("002", spool_payload(f"leave-{tok}", {"kind": "member.left", "member": sam}))
    wait(lambda: sam_ghost not in members(), "Sam's ghost did not leave")

    # The bot has no power to name the room (the creator's default levels): Rita's ghost
    # says what happened instead. With the power, the room's name changes.
    bridge.drop("003", spool_payload(f"rename-{tok}", {"kind": "conversation.renamed", "name": f"Team {tok}"}))
    emote = alice.wait_for_event(lambda rid, e: rid == room and (e.get("content") or {}).get("msgtype") == "m.emote",
                                 "the rename as an emote")
    assert emote["sender"] == "@_coi_spool_-rita:matrix.test"
    assert emote["content"]["body"] == f"renamed the chat to \u201cTeam {tok}\u201d"
    levels = alice.hs.run(alice.client.room_get_state_event(room, "m.room.power_levels")).content
    levels.setdefault("users", {})["@coibridge:matrix.test"] = 50
    alice.hs.run(alice.client.room_put_state(room, "m.room.power_levels", levels))
    bridge.drop("004", spool_payload(f"rename2-{tok}", {"kind": "conversation.renamed", "name": f"Crew {tok}"}))
    wait(lambda: getattr(alice.hs.run(alice.client.room_get_state_event(room, "m.room.name")), "content", {})
         .get("name") == f"Crew {tok}", "the room was not renamed")
    assert kinds(bridge) == []  # nothing of this came back to the spool


def test_reply_edit_reaction_and_redactions_from_matrix(bridge, new_user, bridge_setup):
    alice = new_user("alice", displayname="Alice Matrix")
    room = bridged_room(bridge, alice, bridge_setup)
    tok = token()
    first = alice.send_text(room, f"first {tok}")
    [d1] = bridge.wait_outbox(1)
    spool_first = {"connector": "spool", "remote_id": next(p.name for p in bridge.outbox_dir.glob("*.json"))}

    alice.send(room, {"msgtype": "m.text", "body": f"a reply {tok}", "m.relates_to": {"m.in_reply_to": {"event_id": first}}})
    alice.send(room, {"msgtype": "m.text", "body": f"* first, edited {tok}",
                      "m.new_content": {"msgtype": "m.text", "body": f"first, edited {tok}"},
                      "m.relates_to": {"rel_type": "m.replace", "event_id": first}})
    reaction = alice.send(room, {"m.relates_to": {"rel_type": "m.annotation", "event_id": first, "key": "👍"}},
                          event_type="m.reaction")
    alice.redact(room, reaction)
    alice.redact(room, first)
    out = bridge.wait_outbox(6)
    by_kind = {}
    for d in out:
        by_kind.setdefault(d["event"]["payload"]["kind"], []).append(d["event"]["payload"])
    [reply] = [p for p in by_kind["message.posted"] if p["body"]["text"] == f"a reply {tok}"]
    assert reply["body"]["reply_to"] == spool_first
    [edit] = by_kind["message.edited"]
    assert edit["target"] == spool_first and edit["body"]["text"] == f"first, edited {tok}"
    added, removed = sorted(by_kind["reaction.changed"], key=lambda p: not p["added"])
    assert added == {"kind": "reaction.changed", "target": spool_first, "reaction": "👍", "added": True}
    assert removed == {"kind": "reaction.changed", "target": spool_first, "reaction": "👍", "added": False}
    assert by_kind["message.deleted"] == [{"kind": "message.deleted", "target": spool_first}]
    out = bridge.outbox_through_marker(lambda text: alice.send_text(room, text))
    assert len(out) == 6, out


def test_reply_edit_reaction_and_deletion_from_the_spool(bridge, new_user, bridge_setup):
    alice = new_user("alice", displayname="Alice Matrix")
    room = bridged_room(bridge, alice, bridge_setup)
    tok = token()
    ghost = "@_coi_spool_-rita:matrix.test"
    bridge.drop("001", spool_message(f"original {tok}", f"o-{tok}"))
    original = alice.wait_for_message(room_id=room, body=f"original {tok}")
    target = {"connector": "spool", "remote_id": f"o-{tok}"}

    reply = spool_message(f"replying {tok}", f"r-{tok}")
    reply["payload"]["body"]["reply_to"] = target
    bridge.drop("002", reply)
    got = alice.wait_for_message(room_id=room, body=f"replying {tok}")
    assert got.content["m.relates_to"]["m.in_reply_to"]["event_id"] == original.event_id

    bridge.drop("003", spool_payload(f"e-{tok}", {"kind": "message.edited", "target": target,
                                                  "body": {"text": f"original, fixed {tok}"}}))
    edit = alice.wait_for_event(lambda rid, e: (e.get("content") or {}).get("m.relates_to", {}).get("rel_type") == "m.replace",
                                "an edit")
    assert edit["sender"] == ghost
    assert edit["content"]["m.relates_to"]["event_id"] == original.event_id
    assert edit["content"]["m.new_content"]["body"] == f"original, fixed {tok}"

    bridge.drop("004", spool_payload(f"x-{tok}", {"kind": "reaction.changed", "target": target, "reaction": "🎉",
                                                  "added": True}))
    react = alice.wait_for_event(lambda rid, e: e.get("type") == "m.reaction", "a reaction")
    assert react["sender"] == ghost
    assert react["content"]["m.relates_to"] == {"rel_type": "m.annotation", "event_id": original.event_id, "key": "🎉"}
    bridge.drop("005", spool_payload(f"y-{tok}", {"kind": "reaction.changed", "target": target, "reaction": "🎉",
                                                  "added": False}))
    alice.wait_for_event(lambda rid, e: e.get("type") == "m.room.redaction" and
                         (e.get("redacts") or (e.get("content") or {}).get("redacts")) == react["event_id"],
                         "the reaction's redaction")
    bridge.drop("006", spool_payload(f"d-{tok}", {"kind": "message.deleted", "target": target}))
    alice.wait_for_event(lambda rid, e: e.get("type") == "m.room.redaction" and
                         (e.get("redacts") or (e.get("content") or {}).get("redacts")) == original.event_id,
                         "the original's redaction")
    # Nothing of it came back: the ghost's events would have reached the bridge before Alice's.
    assert bridge.outbox_through_marker(lambda text: alice.send_text(room, text)) == []


def test_read_receipts_cross_both_ways(bridge, new_user, bridge_setup):
    alice = new_user("alice", displayname="Alice Matrix")
    room = bridged_room(bridge, alice, bridge_setup)
    tok = token()
    bridge.drop("001", spool_message(f"read me {tok}", f"rm-{tok}"))
    ghost_msg = alice.wait_for_message(room_id=room, body=f"read me {tok}")
    alice.read_receipt(room, ghost_msg.event_id)
    [d] = bridge.wait_outbox(1, pred=lambda d: d["event"]["payload"]["kind"] == "read.up_to")
    assert d["event"]["payload"]["target"] == {"connector": "spool", "remote_id": f"rm-{tok}"}
    assert d["event"]["who"]["remote_id"] == alice.user_id

    mine = alice.send_text(room, f"did you read mine? {tok}")
    [posted] = bridge.wait_outbox(1, pred=lambda d: d["event"]["payload"]["kind"] == "message.posted")
    spool_id = next(p.name for p in bridge.outbox_dir.glob("*.json")
                    if json.loads(p.read_text())["event"]["payload"]["kind"] == "message.posted")
    bridge.drop("002", spool_payload(f"rr-{tok}", {"kind": "read.up_to",
                                                   "target": {"connector": "spool", "remote_id": spool_id}}))
    alice.wait_for_receipt(room, "@_coi_spool_-rita:matrix.test", mine)


def test_typing_crosses_both_ways_and_so_does_its_end(bridge, new_user, bridge_setup):
    alice = new_user("alice", displayname="Alice Matrix")
    room = bridged_room(bridge, alice, bridge_setup)

    def typing_events():
        # In the order they happened (the spool's file names are event ids, in no order).
        return sorted((d["event"] for d in bridge.outbox() if d["event"]["payload"]["kind"] == "typing"),
                      key=lambda e: e["at"])

    alice.typing(room, True)
    bridge.wait_outbox(1, pred=lambda d: d["event"]["payload"]["kind"] == "typing")
    alice.typing(room, False)
    bridge.wait_outbox(2, pred=lambda d: d["event"]["payload"]["kind"] == "typing")
    started, stopped = typing_events()[:2]
    assert started["who"]["remote_id"] == alice.user_id and started["payload"]["active"] is True
    assert stopped["who"]["remote_id"] == alice.user_id and stopped["payload"]["active"] is False
    assert started["where"] == stopped["where"] == {"connector": "matrix", "remote_id": room}

    ghost = "@_coi_spool_-rita:matrix.test"
    tok = token()
    bridge.drop("001", spool_payload(f"ty-{tok}", {"kind": "typing", "active": True}))
    deadline = time.monotonic() + 30
    while not any(r == room and ghost in users for r, users in alice.typing_seen):
        assert time.monotonic() < deadline, f"no typing notice of {ghost}: {alice.typing_seen[-5:]}"
        alice.sync(1000)
    bridge.drop("002", spool_payload(f"ty-end-{tok}", {"kind": "typing", "active": False}))
    seen = next(i for i, (r, users) in enumerate(alice.typing_seen) if r == room and ghost in users)
    while not any(r == room and ghost not in users for r, users in alice.typing_seen[seen + 1:]):
        assert time.monotonic() < deadline + 30, f"{ghost} did not stop typing: {alice.typing_seen[-5:]}"
        alice.sync(1000)


def test_sigkill_during_500_messages_loses_and_duplicates_nothing(bridge, new_user, bridge_setup, timings):
    """Issue test 4: coi-bridge is killed with SIGKILL while a Matrix user sends 500 messages
    and started again; the homeserver resends what was not acknowledged, and every message
    arrives on the other side exactly once."""
    import threading

    alice = new_user("alice", displayname="Alice Matrix")
    room = bridged_room(bridge, alice, bridge_setup)
    tok = token()
    bodies = [f"{tok} #{i:03d}" for i in range(500)]
    sent: list = []
    failure: list = []

    def send():
        try:
            sent.extend(alice.send_many(room, bodies, concurrency=8))
        except Exception as e:  # reported by the main thread
            failure.append(e)

    t0 = time.monotonic()
    sender = threading.Thread(target=send)
    sender.start()
    bridge.wait_outbox(100, timeout=120)
    bridge.kill()
    killed_at = len(bridge.outbox())
    bridge.start()
    sender.join(timeout=300)
    assert not failure, failure
    assert len(sent) == 500
    got = bridge.wait_outbox(500, timeout=300)
    timings["500 Matrix messages with a SIGKILL -> all in the spool"] = f"{time.monotonic() - t0:.1f} s"
    texts = [d["event"]["payload"]["body"]["text"]
             for d in bridge.outbox_through_marker(lambda text: alice.send_text(room, text))]
    assert sorted(texts) == bodies, f"{len(texts)} delivered, {len(set(texts))} distinct"
    written = [line.split(" ")[0] for line in bridge.deliveries_log() if line.endswith(" written")]
    assert len(written) == len(set(written)) == 501  # and the marker
    # Relayed ones: the room's own events from before its link are kept unlinked.
    assert bridge.sql("SELECT count(*) FROM messages WHERE bridge_id IS NOT NULL") == "501"
    assert 100 <= killed_at < 500, killed_at
    assert len(got) >= 500


def test_skipped_transaction_numbers_make_the_bridge_read_the_rooms_history(bridge, new_user, bridge_setup):
    """Synapse numbers transactions per appservice; a number that never arrives (Synapse
    1.163 can skip one while an appservice recovers) means events the homeserver will not
    send again. The bridge then reads the rooms' recent history, and what it had not seen is
    published once. Here the unseen message is one written before the bot joined, and the gap
    is a transaction number far ahead of the homeserver's."""
    alice = new_user("alice", displayname="Alice Matrix")
    bot = f"@coibridge:{bridge_setup.server_name}"
    tok = token()
    room = alice.create_room(name=f"history {tok}")
    alice.send_text(room, f"before the bridge {tok}")
    alice.invite(room, bot)
    alice.wait_joined(room, bot, context=bridge.log_tail)
    bridge.link(room, "room")
    alice.send_text(room, f"after the link {tok}")
    bridge.wait_outbox(1)
    assert [d["event"]["payload"]["body"]["text"] for d in bridge.outbox()] == [f"after the link {tok}"]

    auth = {"Authorization": f"Bearer {registration_tokens(bridge_setup)['hs_token']}"}
    status, _ = bridge.http("PUT", "/_matrix/app/v1/transactions/900000000", {"events": []}, auth)
    assert status == 200
    bridge.wait_outbox(2)
    texts = sorted(d["event"]["payload"]["body"]["text"]
                   for d in bridge.outbox_through_marker(lambda text: alice.send_text(room, text)))
    assert texts == [f"after the link {tok}", f"before the bridge {tok}"]
    assert "never arrived" in bridge.log_text()
