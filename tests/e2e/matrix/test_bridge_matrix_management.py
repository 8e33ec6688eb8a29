"""The bridge bot's management commands, permissions and portal rooms, with a real Synapse.

Each test runs the real binary with a Matrix connector "matrix" and a spool connector "spool"
(as test_bridge_matrix.py does); rooms are linked through the bot's `link` command in its
management room (a room with the bot that no bridge links), through the REST API, or made
by the bridge when someone asks for a portal alias.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid

import mxpeer

BOT_LOCALPART = "coibridge"


def token() -> str:
    return uuid.uuid4().hex[:8]


def bot_of(setup) -> str:
    return f"@{BOT_LOCALPART}:{setup.server_name}"


def spool_message(text: str, origin: str, room: str) -> dict:
    return {
        "where": {"remote_id": room},
        "who": {"connector": "spool", "remote_id": "rita", "display_name": "Remote Rita"},
        "origin": {"remote_id": origin},
        "payload": {"kind": "message.posted", "body": {"text": text}},
    }


def permissions_yaml(table: dict, extra: str = "") -> str:
    lines = "".join(f"        {json.dumps(k)}: {v}\n" for k, v in table.items())
    return "      permissions:\n" + lines + extra


def room_with_bot(user, bridge, setup, *, alias: str | None = None, bot_power: int = 0) -> str:
    """A room `user` made with the bot invited (it joins by itself); the bot gets `bot_power`."""
    bot = bot_of(setup)
    kw = {}
    if alias:
        kw["alias"] = alias
    if bot_power:
        # Room version 12: the creator's power is implied and must not be listed.
        kw["power_level_override"] = {"users": {bot: bot_power}}
    room = user.create_room(name=f"room {token()}", invite=[bot], **kw)
    user.wait_joined(room, bot, context=bridge.log_tail)
    return room


def command(user, room: str, text: str, setup) -> str:
    """Says `text` in the management room; the bot's answer (an m.notice)."""
    user.send_text(room, text)
    m = user.wait_for_message(room_id=room, sender=bot_of(setup))
    assert m.msgtype == "m.notice", m
    return m.body


def state(user, room: str, event_type: str, state_key: str) -> tuple:
    path = (f"/_matrix/client/v3/rooms/{urllib.parse.quote(room, safe='')}/state/"
            f"{event_type}/{urllib.parse.quote(state_key, safe='')}")
    return user.hs.api("GET", path, token=user.access_token)


def wait_state(user, room: str, event_type: str, state_key: str, pred, what: str, bridge) -> dict:
    deadline = time.monotonic() + 30
    while True:
        status, body = state(user, room, event_type, state_key)
        if status == 200 and pred(body):
            return body
        assert time.monotonic() < deadline, f"{what}: {status} {body}\n{bridge.log_tail()}"
        time.sleep(0.2)


def bridge_of(bridge, connector: str, remote_id: str) -> str:
    return bridge.sql(f"SELECT bridge_id FROM links WHERE connector = '{connector}' AND remote_id = '{remote_id}'")


def test_admin_links_a_room_by_alias_with_link_and_messages_cross(make_bridge, new_user, bridge_setup):
    admin = new_user("admin")
    bridge = make_bridge(matrix_extra=permissions_yaml({admin.user_id: "admin"}))
    tok = token()
    manage = room_with_bot(admin, bridge, bridge_setup)
    team = room_with_bot(admin, bridge, bridge_setup, alias=f"team{tok}", bot_power=50)
    alias = f"#team{tok}:{bridge_setup.server_name}"

    answer = command(admin, manage, f"link {alias} spool:general{tok}", bridge_setup)
    assert answer.startswith(f"linked {alias} ({team}) with spool:general{tok}"), answer
    bridge_id = bridge_of(bridge, "matrix", team)
    assert bridge_id and bridge_id == bridge_of(bridge, "spool", f"general{tok}")

    # Matrix -> spool
    admin.send_text(team, f"hello through link {tok}")
    [d] = bridge.wait_outbox(1)
    assert d["target"] == {"connector": "spool", "remote_id": f"general{tok}"}
    assert d["event"]["payload"]["body"]["text"] == f"hello through link {tok}"
    # spool -> Matrix
    bridge.drop("001", spool_message(f"hello back {tok}", f"s-{tok}", f"general{tok}"))
    m = admin.wait_for_message(room_id=team, body=f"hello back {tok}")
    assert m.sender == "@_coi_spool_-rita:matrix.test"

    # MSC2346 bridge info on the linked room, under both event types.
    for event_type in ("m.bridge", "uk.half-shot.bridge"):
        info = wait_state(admin, team, event_type, f"coi:bridge:{bridge_id}", lambda b: "bridgebot" in b,
                          f"{event_type} on the linked room", bridge)
        assert info["bridgebot"] == bot_of(bridge_setup)
        assert info["channel"]["id"] == f"bridge:{bridge_id}"
        assert info["protocol"]["id"] == "coi"

    # Linking either side again is refused, and nothing else is linked.
    other = room_with_bot(admin, bridge, bridge_setup)
    answer = command(admin, manage, f"link {other} spool:general{tok}", bridge_setup)
    assert "linked already" in answer, answer
    answer = command(admin, manage, f"link {team} spool:elsewhere{tok}", bridge_setup)
    assert "linked already" in answer, answer
    assert bridge.sql("SELECT count(*) FROM links") == "2"
    assert bridge.sql("SELECT count(*) FROM bridges") == "1"
    # Malformed and impossible requests get an answer, not silence.
    assert command(admin, manage, "link", bridge_setup).startswith("usage: link")
    assert "no connector named nosuch" in command(admin, manage, f"link {other} nosuch:x", bridge_setup)
    assert "another network" in command(admin, manage, f"link {other} matrix:!x:matrix.test", bridge_setup)
    assert "no room has the alias" in command(admin, manage, f"link #nope{tok}:matrix.test spool:x", bridge_setup)
    assert "backfill wants a number" in command(admin, manage, f"link {other} spool:x backfill many", bridge_setup)
    assert bridge.sql("SELECT count(*) FROM links") == "2"

    # With history: four messages the spool conversation kept while nothing linked it; the
    # three newest follow into the room, in order.
    for i in range(4):
        bridge.drop(f"h{i}", spool_message(f"history {i} {tok}", f"h{i}-{tok}", f"history{tok}"))
    bridge.wait_sql(f"SELECT count(*) FROM messages WHERE origin_conversation = 'history{tok}'", "4")
    answer = command(admin, manage, f"link {other} spool:history{tok} backfill 3", bridge_setup)
    assert answer.startswith(f"linked {other} with spool:history{tok}") and "3 earlier messages follow" in answer, \
        answer
    for i in (1, 2, 3):
        admin.wait_for_message(room_id=other, body=f"history {i} {tok}")
    shown = [m.body for m in admin.messages(other) if m.body and m.body.startswith("history ")]
    assert shown == [f"history {i} {tok}" for i in (1, 2, 3)], shown


def test_unlink_stops_relaying_and_withdraws_the_bridge_info(make_bridge, new_user, bridge_setup):
    admin = new_user("admin")
    bridge = make_bridge(matrix_extra=permissions_yaml({admin.user_id: "admin"}))
    tok = token()
    manage = room_with_bot(admin, bridge, bridge_setup)
    team = room_with_bot(admin, bridge, bridge_setup, bot_power=50)
    assert command(admin, manage, f"link {team} spool:general{tok}", bridge_setup).startswith("linked")
    bridge_id = bridge_of(bridge, "matrix", team)
    key = f"coi:bridge:{bridge_id}"
    wait_state(admin, team, "m.bridge", key, lambda b: "bridgebot" in b, "m.bridge after link", bridge)
    admin.send_text(team, f"before unlink {tok}")
    bridge.wait_outbox(1)

    answer = command(admin, manage, f"unlink {team}", bridge_setup)
    assert answer == f"unlinked {team} from spool:general{tok}", answer
    # The bridge had two links: it is gone, so the spool conversation is free again.
    assert bridge.sql("SELECT count(*) FROM links") == "0"
    assert bridge.sql("SELECT count(*) FROM bridges") == "0"
    for event_type in ("m.bridge", "uk.half-shot.bridge"):
        wait_state(admin, team, event_type, key, lambda b: b == {}, f"{event_type} withdrawn", bridge)

    admin.send_text(team, f"after unlink {tok}")
    bridge.drop("002", spool_message(f"spool after unlink {tok}", f"s2-{tok}", f"general{tok}"))
    # The spool's message is kept without deliveries, in a conversation linked to nothing.
    bridge.wait_sql(f"SELECT count(*) FROM messages WHERE bridge_id IS NULL AND origin_remote_id = 's2-{tok}'", "1")
    # A room not linked (any more) says so. The homeserver sends the room's message to the
    # bridge before this command, so the bot's answer comes after the message was handled.
    assert command(admin, manage, f"unlink {team}", bridge_setup) == f"{team} is not linked"
    assert bridge.sql("SELECT count(*) FROM outbox") == "0"
    assert [d["event"]["payload"]["body"]["text"] for d in bridge.outbox()] == [f"before unlink {tok}"]
    admin.sync(1000)
    assert not [m for m in admin.messages(team) if m.body == f"spool after unlink {tok}"]


def test_link_and_dm_are_refused_without_the_level_but_chat_still_crosses(make_bridge, new_user, bridge_setup):
    admin = new_user("admin")
    user = new_user("plain")     # level "user" through its own entry
    nobody = new_user("nobody")  # no level: a table without a server or * entry gives none
    bridge = make_bridge(matrix_extra=permissions_yaml({admin.user_id: "admin", user.user_id: "user"}))
    tok = token()

    manage = room_with_bot(user, bridge, bridge_setup)
    answer = command(user, manage, f"link {manage} spool:general{tok}", bridge_setup)
    assert "needs the admin level" in answer and 'you have "user"' in answer, answer
    answer = command(user, manage, f"unlink {manage}", bridge_setup)
    assert "needs the admin level" in answer, answer

    own = room_with_bot(nobody, bridge, bridge_setup)
    answer = command(nobody, own, "dm bob@example.org", bridge_setup)
    assert "needs the user level" in answer and "you have none" in answer, answer
    answer = command(nobody, own, "status", bridge_setup)
    assert "needs the user level" in answer, answer
    # help is for everybody, and says what one may do.
    assert 'up to level "none"' in command(nobody, own, "help", bridge_setup)
    assert bridge.sql("SELECT count(*) FROM links") == "0"
    assert bridge.sql("SELECT count(*) FROM bridges") == "0"

    # Permissions govern commands, not chat: in a linked room, a user with no level is relayed.
    team = room_with_bot(admin, bridge, bridge_setup)
    admin.invite(team, nobody.user_id)
    nobody.join(team)
    bridge.link(team, f"general{tok}")
    nobody.send_text(team, f"no level, still relayed {tok}")
    # (Its join may cross too, as a member event: only the message matters here.)
    [d] = bridge.wait_outbox(1, pred=lambda d: d["event"]["payload"]["kind"] == "message.posted")
    assert d["event"]["who"]["remote_id"] == nobody.user_id
    assert d["event"]["payload"]["body"]["text"] == f"no level, still relayed {tok}"


def test_without_a_permissions_table_nobody_may_link(make_bridge, new_user, bridge_setup):
    alice = new_user("alice")
    bridge = make_bridge()
    manage = room_with_bot(alice, bridge, bridge_setup)
    answer = command(alice, manage, f"link {manage} spool:x", bridge_setup)
    assert "needs the admin level" in answer and 'you have "user"' in answer, answer
    assert bridge.sql("SELECT count(*) FROM links") == "0"


def test_rest_linked_room_carries_bridge_info_until_the_link_goes(make_bridge, new_user, bridge_setup):
    alice = new_user("alice")
    bridge = make_bridge()
    room = room_with_bot(alice, bridge, bridge_setup, bot_power=50)
    bridge_id = bridge.link(room, f"general{token()}")
    key = f"coi:bridge:{bridge_id}"
    for event_type in ("m.bridge", "uk.half-shot.bridge"):
        info = wait_state(alice, room, event_type, key, lambda b: "bridgebot" in b,
                          f"{event_type} on the REST-linked room", bridge)
        assert info["bridgebot"] == bot_of(bridge_setup)
        assert info["channel"]["id"] == f"bridge:{bridge_id}"
    status, links = bridge.api("GET", f"/api/v1/bridges/{bridge_id}/links")
    assert status == 200
    [mine] = [link for link in links["items"] if link["connector"] == "matrix"]
    status, _ = bridge.api("DELETE", f"/api/v1/bridges/{bridge_id}/links/{mine['id']}")
    assert status == 204
    wait_state(alice, room, "m.bridge", key, lambda b: b == {}, "m.bridge withdrawn after DELETE", bridge)


def test_rest_link_succeeds_even_where_the_bot_may_not_set_state(make_bridge, new_user, bridge_setup):
    alice = new_user("alice")
    bridge = make_bridge()
    room = room_with_bot(alice, bridge, bridge_setup)  # the bot has power level 0
    bridge_id = bridge.link(room, f"general{token()}")
    # The room's admins learn why the room does not show it is bridged.
    note = alice.wait_for_message(room_id=room, sender=bot_of(bridge_setup))
    assert note.msgtype == "m.notice" and "power level 50" in note.body, note
    assert state(alice, room, "m.bridge", f"coi:bridge:{bridge_id}")[0] == 404
    assert "not told that" in bridge.log_text()
    alice.send_text(room, "still bridged")
    # The bot's note is not relayed; the message is.
    out = bridge.outbox_through_marker(lambda text: alice.send_text(room, text))
    assert [d["event"]["payload"]["body"]["text"] for d in out] == ["still bridged"]


def test_inviting_a_ghost_without_the_user_level_is_declined(make_bridge, new_user, bridge_setup):
    admin = new_user("admin")
    nobody = new_user("nobody")
    bridge = make_bridge(matrix_extra=permissions_yaml({admin.user_id: "admin"}) + "      dm_connector: spool\n")
    ghost = "@_coi_bob=40example.org:matrix.test"
    room = nobody.create_room(name="dm", invite=[ghost], is_direct=True)
    deadline = time.monotonic() + 30
    while True:
        status, member = state(nobody, room, "m.room.member", ghost)
        if status == 200 and member.get("membership") == "leave":
            break
        assert member.get("membership") != "join", member
        assert time.monotonic() < deadline, f"the ghost did not decline: {status} {member}\n{bridge.log_tail()}"
        time.sleep(0.2)
    assert "may not open direct chats" in bridge.log_text()
    assert bridge.sql("SELECT count(*) FROM links") == "0"


def test_portal_room_is_made_when_its_alias_is_joined(make_bridge, new_user, bridge_setup):
    alice = new_user("alice")
    bridge = make_bridge(matrix_extra="      dm_connector: spool\n      public_portals: true\n")
    tok = token()
    group = f"group:Team_{tok}"
    # The other side has described the conversation as a group (as the COI connector does for
    # the groups it reads); another one it has not.
    bridge.sql(f"INSERT INTO conversations (connector, remote_id, kind, title) VALUES ('spool', '{group}', 'group', 'Team {tok}')")
    alias = mxpeer.portal_alias_of(group, bridge_setup.server_name)
    assert alias == f"#_coi_group=3a_team__{tok}:matrix.test"

    room = alice.join(alias)
    assert bridge_of(bridge, "matrix", room) == bridge_of(bridge, "spool", group) != ""
    bridge_id = bridge_of(bridge, "matrix", room)
    info = wait_state(alice, room, "m.bridge", f"coi:bridge:{bridge_id}", lambda b: "bridgebot" in b,
                      "m.bridge on the portal", bridge)
    assert info["bridgebot"] == bot_of(bridge_setup)
    # Named as the other side describes the group, not by its id.
    wait_state(alice, room, "m.room.name", "", lambda c: c.get("name") == f"Team {tok}",
               "the portal's name", bridge)

    alice.send_text(room, f"into the portal {tok}")
    [d] = bridge.wait_outbox(1)
    assert d["target"] == {"connector": "spool", "remote_id": group}
    bridge.drop("001", spool_message(f"out of the portal {tok}", f"s-{tok}", group))
    assert alice.wait_for_message(room_id=room, body=f"out of the portal {tok}").sender == "@_coi_rita:matrix.test"

    # Unknown groups, other conversations and foreign names have no portal.
    bridge.sql("INSERT INTO conversations (connector, remote_id, kind) VALUES ('spool', 'dm:bob@example.org', 'direct')")
    for missing in (mxpeer.portal_alias_of(f"group:unknown{tok}", "matrix.test"),
                    mxpeer.portal_alias_of("dm:bob@example.org", "matrix.test")):
        try:
            alice.join(missing)
        except mxpeer.MxError as e:
            assert "M_NOT_FOUND" in str(e) or "404" in str(e), e
        else:
            raise AssertionError(f"{missing} was joinable")
    assert bridge.sql("SELECT count(*) FROM links") == "2"


def test_no_portals_unless_public_portals_is_on(make_bridge, new_user, bridge_setup):
    alice = new_user("alice")
    bridge = make_bridge(matrix_extra="      dm_connector: spool\n")
    group = f"group:g{token()}"
    bridge.sql(f"INSERT INTO conversations (connector, remote_id, kind) VALUES ('spool', '{group}', 'group')")
    try:
        alice.join(mxpeer.portal_alias_of(group, bridge_setup.server_name))
    except mxpeer.MxError as e:
        # Refused because the alias does not exist, not because something broke (a 500).
        assert "M_NOT_FOUND" in str(e) or "404" in str(e), e
    else:
        raise AssertionError("the portal was made with public_portals off")
    assert bridge.sql("SELECT count(*) FROM links") == "0"
