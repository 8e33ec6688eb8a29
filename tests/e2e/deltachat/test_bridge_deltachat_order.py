"""Order in Delta Chat after a backlog: the mail side unreachable while messages queue, then
back, with Postfix delivering in parallel as a provider's does.

The bridge's SMTP submission goes through a TcpGate (dcpeer) that the test shuts and opens:
shut, every connection is refused at once and the kept sessions are cut, as when the mail
server goes away. What Delta Chat shows is asserted: each message once, in the order it was
written, with a Date second of its own (connectors/coi/mail_date_clock.hpp).

Fixtures: conftest.py (make_account, new_user, make_bridge, stack, timings).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from dcpeer import TcpGate, parallel_delivery
from test_bridge_deltachat import (dc_user, incoming_in_chats, maillog_offset, out_of_place, spool_message,
                                   submissions, token, watch_incoming)


def iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def shown_in_chat(acc, tok: str, prefix: str) -> list:
    """The messages of the one chat that has them, in the order Delta Chat shows it."""
    mine = [m for m in incoming_in_chats(acc) if tok in m.text and m.text.startswith(prefix)]
    chats = {m.chat_id for m in mine}
    assert len(chats) == 1, chats
    return [m for m in acc.messages(chats.pop()) if m.incoming and tok in m.text and m.text.startswith(prefix)]


def test_a_backlog_behind_an_smtp_outage_is_shown_in_order_and_two_conversations_catch_up_side_by_side(
        make_bridge, make_account, new_user, stack, timings):
    gate = TcpGate(stack.submission_port)
    try:
        bridge = make_bridge(smtp_port=gate.port)
        alice = dc_user(new_user, make_account, "Alice DC")
        bob = dc_user(new_user, make_account, "Bob DC")
        bridge.link(f"dm:{alice.addr}", "room-a", name="alice")
        bridge.link(f"dm:{bob.addr}", "room-b", name="bob")
        tok = token()
        a_texts = [f"backlog a {i:03d} {tok}" for i in range(500)]
        b_texts = [f"backlog b {i:02d} {tok}" for i in range(40)]

        gate.shut()
        log_from = maillog_offset(stack)
        now = time.time()
        # Alice's side of the outage: 500 messages written over the last twelve minutes, three
        # at a time within one second. Bob's: 40 in one burst just now.
        for i, text in enumerate(a_texts):
            event = spool_message(text, f"a-{tok}-{i:03d}", room="room-a")
            event["at"] = iso(now - 700 + 4 * (i // 3))
            bridge.drop(f"a{i:03d}", event)
        for i, text in enumerate(b_texts):
            bridge.drop(f"b{i:02d}", spool_message(text, f"b-{tok}-{i:02d}", room="room-b"))

        # Everything committed and queued; both queues' heads tried and refused.
        deadline = time.monotonic() + 120
        tried = "SELECT count(DISTINCT target_conversation) FROM outbox WHERE last_error IS NOT NULL"
        while bridge.sql("SELECT count(*) FROM outbox") != "540" or bridge.sql(tried) != "2":
            assert time.monotonic() < deadline, (bridge.sql("SELECT count(*) FROM outbox"), bridge.sql(tried),
                                                 bridge.sql("SELECT target_conversation, attempts, last_error "
                                                            "FROM outbox WHERE last_error IS NOT NULL"))
            time.sleep(0.1)
        # Down for longer than the test config's backoff (50 ms to 500 ms) takes for ten
        # attempts (delivery.max_attempts): an outage must cost no attempt.
        time.sleep(8)
        assert bridge.sql("SELECT count(*) FROM dead_letters") == "0"
        assert bridge.sql("SELECT max(attempts) FROM outbox") == "0"

        with parallel_delivery(stack):
            released = time.monotonic()
            gate.open()
            seen_a = watch_incoming(alice, a_texts, timeout=600)
            seen_b = watch_incoming(bob, b_texts, timeout=300)
        timings["backlog of 500 (written over 12 min) after the outage: all in Delta Chat"] = \
            f"{max(seen_a.values()) - released:.1f} s"
        timings["burst of 40 (written in one second) after the outage: all in Delta Chat"] = \
            f"{max(seen_b.values()) - released:.1f} s"

        for acc, texts, prefix, who in ((alice, a_texts, "backlog a ", "alice"), (bob, b_texts, "backlog b ", "bob")):
            incoming = [m for m in incoming_in_chats(acc) if tok in m.text]
            assert sorted(m.text for m in incoming) == sorted(texts), who  # each exactly once
            shown = shown_in_chat(acc, tok, prefix)
            timings[f"{who}: received out of place (Postfix in parallel)"] = \
                out_of_place([m.text for m in incoming], texts)
            timings[f"{who}: shown out of place"] = out_of_place([m.text for m in shown], texts)
            assert [m.text for m in shown] == texts, who
            dates = [m.raw["timestamp"] for m in shown]
            assert all(a < b for a, b in zip(dates, dates[1:])), (who, dates)

        # Neither conversation waited for the other: their submissions interleave.
        conv_of = {}
        for acc, label in ((alice, "a"), (bob, "b")):
            for m in incoming_in_chats(acc):
                if tok in m.text:
                    conv_of[acc.message_id_header(m)] = label
        order = [conv_of[mid] for mid in submissions(stack, bridge.address, log_from) if mid in conv_of]
        assert len(order) == 540, len(order)
        first = {c: order.index(c) for c in "ab"}
        last = {c: len(order) - 1 - order[::-1].index(c) for c in "ab"}
        assert first["b"] < last["a"] and first["a"] < last["b"], (first, last)
        assert bridge.sql("SELECT count(*) FROM dead_letters") == "0"
    finally:
        gate.close()
