"""Matrix and Delta Chat through coi-bridge: Synapse with the bridge as its application
service on one side, Dovecot + Postfix with Delta Chat core on the other.
"""

from __future__ import annotations

import time
import uuid

SETTLE_SECONDS = 2.0


def token() -> str:
    return uuid.uuid4().hex[:8]


def ghost_of(address: str, server_name: str = "matrix.test") -> str:
    """The ghost of a mail address (Matrix spec appendix, "Mapping from other character sets")."""
    out = []
    for b in address.encode():
        c = chr(b)
        if c.isdigit() or ("a" <= c <= "z") or c in "-./":
            out.append(c)
        elif c == "_":
            out.append("__")
        elif "A" <= c <= "Z":
            out.append("_" + c.lower())
        else:
            out.append(f"={b:02x}")
    return f"@_coi_{''.join(out)}:{server_name}"


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
    deadline = time.monotonic() + 30
    while not any(m.user_id == ghost for m in getattr(alice.hs.run(alice.client.joined_members(room)), "members", [])):
        assert time.monotonic() < deadline, f"{ghost} did not join:\n{mail_bridge.log_tail()}"
        time.sleep(0.1)
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
    time.sleep(SETTLE_SECONDS)
    assert [m.body for m in alice.messages(room) if m.sender == ghost] == [f"hello Alice, from Delta Chat {tok}"]
    assert mail_bridge.sql("SELECT count(*) FROM messages") == "2"


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
    alice.send_text(room, f"yes, here {tok}")
    got = bob.wait_for_message(text=f"yes, here {tok}")
    assert got.sender_addr.lower() == puppet
    assert got.shown_name == "Alice Matrix"
