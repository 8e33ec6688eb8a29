"""Matrix and Delta Chat through coi-bridge: Synapse with the bridge as its application
service on one side, Dovecot + Postfix with Delta Chat core on the other.
"""

from __future__ import annotations

import time
import uuid

import mxbridge
from mxpeer import ghost_of, make_png, portal_alias_of

def token() -> str:
    return uuid.uuid4().hex[:8]


def test_matrix_user_opens_a_dm_with_a_ghost_and_both_sides_write(mail_bridge, dc_account, new_user, timings):
    """Issue test 1: a Matrix user opens a DM with a COI contact's ghost and writes; the
    Delta Chat user receives it as chat from the Matrix user's name; the answer appears in
    the Matrix DM from the ghost."""
    bob = dc_account("Bob DC")
    alice = new_user("alice", displayname="Alice Matrix")
    ghost = ghost_of(bob.addr)
    room = alice.create_room(invite=[ghost], is_direct=True)
    tok = token()
    # The ghost joins, and the bridge links the room with the mail chat between Bob and
    # Alice's puppet address.
    alice.wait_joined(room, ghost, context=mail_bridge.log_tail)
    puppet = mail_bridge.mail.puppet("matrix", alice.user_id)
    assert mail_bridge.sql("SELECT remote_id FROM links WHERE connector = 'mail'") == f"dm:{bob.addr}|{puppet}"

    t0 = time.monotonic()
    alice.send_text(room, f"hi Bob, from Matrix {tok}")
    got = bob.wait_for_message(text=f"hi Bob, from Matrix {tok}")
    timings["Matrix DM -> Delta Chat shown"] = f"{(time.monotonic() - t0) * 1000:.0f} ms"
    assert got.shown_name == "Alice Matrix"
    assert got.sender_addr.lower() == puppet

    bob.accept_chat(got.chat_id)
    t0 = time.monotonic()
    bob.send_text(got.chat_id, f"hello Alice, from Delta Chat {tok}")
    answer = alice.wait_for_message(room_id=room, body=f"hello Alice, from Delta Chat {tok}")
    timings["Delta Chat answer -> Matrix DM"] = f"{(time.monotonic() - t0) * 1000:.0f} ms"
    assert answer.sender == ghost

    # Issue test 3, Matrix to mail: Alice reads Bob's answer; Delta Chat shows its message as
    # read by Alice's puppet (an RFC 8098 receipt from the bridge). The other way needs a
    # Delta Chat that sends receipts for unencrypted mail (2.62 and older; see
    # tests/e2e/deltachat/test_bridge_deltachat_plain_receipts.py for that half).
    bob_msg = next(m for m in bob.messages(got.chat_id) if m.text == f"hello Alice, from Delta Chat {tok}")
    alice.read_receipt(room, answer.event_id)
    receipts = bob.wait_read(bob_msg.id)
    assert {a.lower() for a in receipts} == {puppet}
    # Nothing else of Bob's came to the room before his next message.
    bob.send_text(got.chat_id, f"marker {tok}")
    alice.wait_for_message(room_id=room, body=f"marker {tok}")
    assert [m.body for m in alice.messages(room) if m.sender == ghost] == [f"hello Alice, from Delta Chat {tok}",
                                                                           f"marker {tok}"]
    assert mail_bridge.sql("SELECT count(*) FROM messages WHERE kind = 'message.posted'") == "3"

    # A Matrix reply to Bob's message shows in Delta Chat as a reply quoting it.
    alice.send(room, {"msgtype": "m.text", "body": f"a reply to your hello {tok}",
                      "m.relates_to": {"m.in_reply_to": {"event_id": answer.event_id}}})
    quoted = bob.wait_for_message(text=f"a reply to your hello {tok}")
    assert quoted.quote_text == f"hello Alice, from Delta Chat {tok}", quoted.raw
    assert quoted.quote_msg_id == bob_msg.id, quoted.raw


def test_mail_to_a_matrix_users_puppet_opens_a_dm_on_matrix(mail_bridge, dc_account, new_user):
    """The other way round: a Delta Chat user writes to a Matrix user's puppet address; the
    Matrix user is invited to a direct chat with the sender's ghost, which carries the
    message, and the answer reaches Delta Chat."""
    bob = dc_account("Bob DC")
    alice = new_user("alice", displayname="Alice Matrix")
    puppet = mail_bridge.mail.puppet("matrix", alice.user_id)
    tok = token()
    bob.send_text(bob.chat_with(puppet), f"are you on Matrix? {tok}")
    room = alice.wait_for_invite()
    alice.join(room)
    msg = alice.wait_for_message(room_id=room, body=f"are you on Matrix? {tok}")
    assert msg.sender == ghost_of(bob.addr)
    # The room says what it bridges (MSC2346).
    state = alice.hs.run(alice.client.room_get_state(room))
    info = [e["content"] for e in state.events if e.get("type") == "m.bridge"]
    assert info and info[0]["bridgebot"] == "@coibridge:matrix.test"
    assert info[0]["protocol"]["id"] == "coi" and info[0]["channel"]["id"] == bob.addr
    alice.send_text(room, f"yes, here {tok}")
    got = bob.wait_for_message(text=f"yes, here {tok}")
    assert got.sender_addr.lower() == puppet
    assert got.shown_name == "Alice Matrix"


def test_a_mail_senders_chat_user_avatar_becomes_the_ghosts_avatar(mail_bridge, mail_user, stack, new_user):
    """A chat mail with Chat-User-Avatar (Delta Chat sends it only in encrypted mail; a COI
    client may send it in the clear), sent over SMTP submission to a Matrix user's puppet:
    the sender's ghost in the direct chat wears that picture."""
    import base64
    import smtplib
    import ssl
    import textwrap
    from email.utils import format_datetime
    from datetime import datetime, timezone

    carol, password = mail_user("carol")
    alice = new_user("alice", displayname="Alice Matrix")
    puppet = mail_bridge.mail.puppet("matrix", alice.user_id)
    tok = token()
    picture = make_png(f"carol-{tok}", side=12)
    header = "\r\n ".join(textwrap.wrap("base64:" + base64.b64encode(picture).decode(), 76))
    raw = (f"From: Carol COI <{carol}>\r\nTo: <{puppet}>\r\nSubject: hi\r\n"
           f"Date: {format_datetime(datetime.now(timezone.utc))}\r\n"
           f"Message-ID: <chat${tok}.{uuid.uuid4().hex[:12]}@example.org>\r\n"
           f"Chat-Version: 1.0\r\nChat-User-Avatar: {header}\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\n\r\nwith my face {tok}\r\n")
    ctx = ssl.create_default_context(cafile=str(stack.ca_file))
    ctx.check_hostname = False  # the stack's certificate names localhost; we dial 127.0.0.1
    with smtplib.SMTP(stack.host, stack.submission_port, timeout=30) as s:
        s.starttls(context=ctx)
        s.login(carol, password)
        s.sendmail(carol, [puppet], raw.encode())
    room = alice.wait_for_invite()
    alice.join(room)
    msg = alice.wait_for_message(room_id=room, body=f"with my face {tok}")
    ghost = ghost_of(carol)
    assert msg.sender == ghost
    profile = alice.hs.run(alice.client.get_profile(ghost))
    assert profile.avatar_url and alice.download(profile.avatar_url) == picture
    assert profile.displayname == "Carol COI"


def test_delta_chat_group_bridged_to_a_matrix_room(mail_bridge, dc_account, new_user, tmp_path, timings):
    """Issue test 2: a COI group (Delta Chat's unencrypted group of Alice and Bob, with the
    Matrix user's puppet as member) bridged to a Matrix room: messages, a reply, reactions,
    an edit and an image cross both ways with the right senders. (Delta Chat refuses to send
    or apply deletions of unencrypted messages, so redactions are covered against the spool in
    test_bridge_matrix.py.)"""
    alice = dc_account("Alice DC")
    bob = dc_account("Bob DC")
    mia = new_user("mia", displayname="Mia Matrix")
    tok = token()
    bot = "@coibridge:matrix.test"
    room = mia.create_room(name=f"Team {tok}", invite=[bot])
    deadline = time.monotonic() + 30
    mia.wait_joined(room, bot, context=mail_bridge.log_tail)

    mia_puppet = mail_bridge.mail.puppet("matrix", mia.user_id)
    group = alice.create_group(f"Team {tok}", [bob.addr, mia_puppet])
    first = alice.send_text(group, f"hello team {tok}")
    conversation = f"adhoc:{alice.message_id_header(first)}"
    while mail_bridge.sql(f"SELECT count(*) FROM conversation_state WHERE conversation = '{conversation}'") != "1":
        assert time.monotonic() < deadline + 30, mail_bridge.log_tail()
        time.sleep(0.1)
    mail_bridge.link_pair(("mail", conversation), ("matrix", room))
    b_first = bob.wait_for_message(text=f"hello team {tok}")
    bob.accept_chat(b_first.chat_id)

    # Delta Chat -> Matrix, each person as their own ghost
    bob.send_text(b_first.chat_id, f"bob speaking {tok}")
    from_bob = mia.wait_for_message(room_id=room, body=f"bob speaking {tok}")
    assert from_bob.sender == ghost_of(bob.addr)
    assert mia.hs.run(mia.client.get_displayname(from_bob.sender)).displayname == "Bob DC"

    # Matrix -> Delta Chat, into the same group chat, under Mia's name
    t0 = time.monotonic()
    mia_msg = mia.send_text(room, f"mia here {tok}")
    at_alice = alice.wait_for_message(text=f"mia here {tok}")
    timings["Matrix room -> Delta Chat group"] = f"{(time.monotonic() - t0) * 1000:.0f} ms"
    at_bob = bob.wait_for_message(text=f"mia here {tok}")
    assert at_alice.chat_id == group and at_bob.chat_id == b_first.chat_id
    assert at_alice.shown_name == "Mia Matrix"

    # a reply to Mia's message, from Delta Chat
    bob.reply(at_bob, f"answering mia {tok}")
    reply = mia.wait_for_message(room_id=room, body=f"answering mia {tok}")
    assert reply.sender == ghost_of(bob.addr)
    assert reply.content["m.relates_to"]["m.in_reply_to"]["event_id"] == mia_msg

    # reactions both ways
    alice.react(at_alice, "👍")
    reaction = mia.wait_for_event(lambda rid, e: rid == room and e.get("type") == "m.reaction", "a reaction")
    assert reaction["sender"] == ghost_of(alice.addr)
    assert reaction["content"]["m.relates_to"] == {"rel_type": "m.annotation", "event_id": mia_msg, "key": "👍"}
    mia.send(room, {"m.relates_to": {"rel_type": "m.annotation", "event_id": from_bob.event_id, "key": "🎉"}},
             event_type="m.reaction")
    bob_own = next(m for m in bob.messages(b_first.chat_id) if m.text == f"bob speaking {tok}")
    got = bob.wait_for_reaction(bob_own, "🎉")
    assert {addr.lower(): emoji for addr, emoji in got.items()} == {mia_puppet: "🎉"}, got

    # an edit from Matrix changes the text in Delta Chat
    mia.send(room, {"msgtype": "m.text", "body": f"* mia here, edited {tok}",
                    "m.new_content": {"msgtype": "m.text", "body": f"mia here, edited {tok}"},
                    "m.relates_to": {"rel_type": "m.replace", "event_id": mia_msg}})
    deadline = time.monotonic() + 30
    while alice.get_message(at_alice.id).text != f"mia here, edited {tok}":
        assert time.monotonic() < deadline, alice.get_message(at_alice.id)
        time.sleep(0.2)
    assert alice.get_message(at_alice.id).is_edited

    # an edit from Delta Chat replaces the message in Matrix
    typo = alice.send_text(group, f"alice wrote a tpyo {tok}")
    on_matrix = mia.wait_for_message(room_id=room, body=f"alice wrote a tpyo {tok}")
    alice.edit(typo, f"alice wrote a typo {tok}")
    edit = mia.wait_for_event(lambda rid, e: rid == room and
                              (e.get("content") or {}).get("m.relates_to", {}).get("rel_type") == "m.replace"
                              and e.get("sender") == ghost_of(alice.addr), "Alice's edit")
    assert edit["content"]["m.relates_to"]["event_id"] == on_matrix.event_id
    assert edit["content"]["m.new_content"]["body"] == f"alice wrote a typo {tok}"

    # images both ways, byte for byte
    png = make_png(tok)
    path = tmp_path / f"team-{tok}.png"
    path.write_bytes(png)
    alice.send_file(group, path, text=f"our logo {tok}", viewtype="Image")
    image = mia.wait_for_event(lambda rid, e: rid == room and (e.get("content") or {}).get("msgtype") == "m.image",
                               "the image")
    assert image["sender"] == ghost_of(alice.addr)
    assert mia.download(image["content"]["url"]) == png
    back = make_png(tok + "-mia")
    mxc = mia.upload(back, "image/png", f"mia-{tok}.png")
    mia.send(room, {"msgtype": "m.image", "body": f"mia-{tok}.png", "url": mxc,
                    "info": {"mimetype": "image/png", "size": len(back)}})
    pic = alice.wait_for_message(pred=lambda m: m.file_name == f"mia-{tok}.png" or (m.file and m.view_type == "Image"
                                                                                    and m.chat_id == group))
    assert pic.file_bytes() == back


def test_management_room_help_status_and_dm(mail_bridge, dc_account, new_user):
    """The bot's management room: a room with the bot that no bridge links takes commands;
    `dm <address>` opens a direct chat with a mail contact that works both ways."""
    bob = dc_account("Bob DC")
    alice = new_user("alice", displayname="Alice Matrix")
    bot = "@coibridge:matrix.test"
    room = alice.create_room(invite=[bot], is_direct=True)
    alice.wait_joined(room, bot, context=mail_bridge.log_tail)
    alice.send_text(room, "help")
    help_text = alice.wait_for_message(room_id=room, sender=bot)
    assert help_text.msgtype == "m.notice" and "dm <address>" in help_text.body
    alice.send_text(room, "status")
    status = alice.wait_for_message(room_id=room, sender=bot)
    assert "direct chats go to mail" in status.body
    alice.send_text(room, "just chatting here")  # not a command: no answer
    alice.send_text(room, f"dm {bob.addr}")
    done = alice.wait_for_message(room_id=room, sender=bot)
    assert done.body == f"invited you to a direct chat with {bob.addr}", done.body
    assert [m.body for m in alice.messages(room) if m.sender == bot] == [help_text.body, status.body, done.body]
    dm = alice.wait_for_invite()
    alice.join(dm)
    tok = token()
    alice.send_text(dm, f"hi from the management room {tok}")
    got = bob.wait_for_message(text=f"hi from the management room {tok}")
    assert got.shown_name == "Alice Matrix"
    bob.accept_chat(got.chat_id)
    bob.send_text(got.chat_id, f"hi back {tok}")
    assert alice.wait_for_message(room_id=dm, body=f"hi back {tok}").sender == ghost_of(bob.addr)


def test_portal_room_for_a_delta_chat_group_is_made_when_its_alias_is_joined(make_bridge, stack, mail_user,
                                                                              dc_account, new_user):
    """With public_portals, a Matrix user joins #_coi_<group>:matrix.test for a group the
    bridge's mail account is in: the bridge makes the room, links it, and both sides write."""
    address, password = mail_user("br", "bridgepw")
    bridge = make_bridge(mail=mxbridge.MailAccount(stack, address, password),
                         matrix_extra="      public_portals: true\n")
    alice = dc_account("Alice DC")
    mia = new_user("mia", displayname="Mia Matrix")
    tok = token()
    group = alice.create_group(f"Portal {tok}", [address])
    first = alice.send_text(group, f"hello portal {tok}")
    conversation = f"adhoc:{alice.message_id_header(first)}"
    deadline = time.monotonic() + 60
    while bridge.sql(f"SELECT count(*) FROM conversation_state WHERE conversation = '{conversation}'") != "1":
        assert time.monotonic() < deadline, bridge.log_tail()
        time.sleep(0.1)

    room = mia.join(portal_alias_of(conversation))
    assert bridge.sql(f"SELECT count(*) FROM links WHERE connector = 'matrix' AND remote_id = '{room}'") == "1"
    assert bridge.sql(f"SELECT count(*) FROM links WHERE connector = 'mail' AND remote_id = '{conversation}'") == "1"

    mia.send_text(room, f"mia in the portal {tok}")
    got = alice.wait_for_message(text=f"mia in the portal {tok}")
    assert got.chat_id == group and got.shown_name == "Mia Matrix"
    alice.send_text(group, f"alice answers {tok}")
    assert mia.wait_for_message(room_id=room, body=f"alice answers {tok}").sender == ghost_of(alice.addr)
