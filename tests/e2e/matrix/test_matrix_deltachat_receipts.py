"""Read receipts from Delta Chat to Matrix (issue test 3, the mail-to-Matrix half).

Delta Chat core 2.63 and later neither ask for nor send read receipts (MDNs) for unencrypted
mail, so this file runs against Delta Chat core 2.62.0, the last version that does (see
tests/e2e/deltachat/test_bridge_deltachat_plain_receipts.py): ctest points DC_RPC_SERVER at
the deltachat-rpc-server of the venv `scripts/e2e-venv --dc-version 2.62.0 --venv
.cache/e2e-venv-dc262` makes. The Matrix-to-mail half runs with 2.65 in
test_matrix_deltachat.py.
"""

from __future__ import annotations

import time
import uuid

from mxpeer import ghost_of


def test_delta_chat_read_receipt_reaches_the_matrix_dm_as_the_ghosts_receipt(mail_bridge, dc_account, new_user,
                                                                             timings):
    bob = dc_account("Bob DC")
    alice = new_user("alice", displayname="Alice Matrix")
    ghost = ghost_of(bob.addr)
    room = alice.create_room(invite=[ghost], is_direct=True)
    alice.wait_joined(room, ghost, context=mail_bridge.log_tail)

    tok = uuid.uuid4().hex[:8]
    first = alice.send_text(room, f"first from Matrix {tok}")
    second = alice.send_text(room, f"second from Matrix {tok}")
    got = bob.wait_for_message(text=f"second from Matrix {tok}")
    bob.accept_chat(got.chat_id)
    shown = [m for m in bob.messages(got.chat_id) if tok in (m.text or "")]
    assert [m.text for m in shown] == [f"first from Matrix {tok}", f"second from Matrix {tok}"]

    # Bob reads both; Delta Chat 2.62 answers each with an MDN to Alice's puppet address.
    t0 = time.monotonic()
    bob.mark_seen(shown)
    alice.wait_for_receipt(room, ghost, second, timeout=60)
    timings["Delta Chat 2.62 markseen -> Matrix receipt of the ghost"] = f"{(time.monotonic() - t0) * 1000:.0f} ms"

    # The receipt is the ghost's own, on Alice's message, and the MDNs posted nothing: Bob's
    # next message is the ghost's first in the room.
    bob.send_text(got.chat_id, f"marker {tok}")
    alice.wait_for_message(room_id=room, body=f"marker {tok}")
    assert [m.body for m in alice.messages(room) if m.sender == ghost] == [f"marker {tok}"], "an MDN became a message"
    read_events = mail_bridge.sql("SELECT count(*) FROM messages WHERE kind = 'read.up_to'")
    assert int(read_events) >= 1, mail_bridge.log_tail()
    assert first  # sent before: a receipt on the newer event covers it (Matrix receipts are "up to")
