"""Order into mail: a Matrix user writes 200 messages into a room linked to a Delta Chat group
while coi-bridge is SIGKILLed after 80 and restarted 3 s later, with Postfix delivering in
parallel as a provider's does. Delta Chat must show all 200 exactly once, in the order they
were sent: each with a Date second of its own (connectors/coi/mail_date_clock.hpp), never one
reused across the restart.
"""

from __future__ import annotations

import statistics
import threading
import time

import dcpeer
from test_matrix_deltachat_groups import linked_room, start_linked_group, token

COUNT = 200
KILL_AFTER = 80


def group_messages(acc: dcpeer.DcAccount, chat_id: int, known: dict, seen: dict) -> list:
    """The chat's messages in the order Delta Chat shows it; `known` caches them by id and
    `seen` notes when each text was first there (time.monotonic())."""
    out = []
    now = time.monotonic()
    for mid in acc.rpc.get_message_ids(acc.id, chat_id, False, False):
        if mid not in known:
            known[mid] = acc.get_message(mid)
            seen.setdefault(known[mid].text, now)
        out.append(known[mid])
    return out


def out_of_place(got: list, want: list) -> int:
    return sum(1 for a, b in zip(got, want) if a != b)


def test_two_hundred_from_matrix_with_a_sigkill_are_shown_in_delta_chat_once_and_in_order(
        mail_bridge, stack, dc_account, new_user, timings):
    alice = dc_account("Alice DC")
    mia = new_user("mia", displayname="Mia Matrix")
    tok = token()
    name = f"Order {tok}"
    room = linked_room(mia, mail_bridge, name)
    mia_puppet = mail_bridge.mail.puppet("matrix", mia.user_id)
    group, _, _ = start_linked_group(mail_bridge, alice, name, [mia_puppet], room, f"{tok} hello")
    # The room has the group's first mail: the bridge knows the group's members.
    mia.wait_for_message(room_id=room, body=f"{tok} hello", timeout=60)

    texts = [f"{tok} mia {i:03d}" for i in range(COUNT)]
    sent = []
    sent_at: dict = {}
    failure: list = []

    def send_all() -> None:
        try:
            for text in texts:
                sent_at[text] = time.monotonic()
                mia.send_text(room, text)
                sent.append(text)
        except Exception as e:  # reported by the main thread
            failure.append(e)

    known: dict = {}
    seen: dict = {}
    with dcpeer.parallel_delivery(stack):
        t0 = time.monotonic()
        sender = threading.Thread(target=send_all)
        sender.start()
        while len(sent) < KILL_AFTER and sender.is_alive():
            time.sleep(0.01)
        mail_bridge.kill()
        killed_at = time.monotonic() - t0
        in_chat_at_kill = sum(1 for m in group_messages(alice, group, known, seen) if m.text in set(texts))
        time.sleep(3)
        mail_bridge.start()
        sender.join(timeout=300)
        assert not failure, failure
        assert sent == texts
        sent_in = time.monotonic() - t0

        wanted = set(texts)

        def all_there():
            return len({m.text for m in group_messages(alice, group, known, seen) if m.text in wanted}) == COUNT

        alice.wait_until(all_there, f"all {COUNT} of Mia's messages in Alice's group", timeout=600)
        done_in = time.monotonic() - t0

    shown = [m for m in group_messages(alice, group, known, seen) if m.text in wanted]
    latency = sorted(seen[t] - sent_at[t] for t in texts)
    timings[f"{COUNT} from Matrix, SIGKILL after {KILL_AFTER} sent"] = (
        f"killed at {killed_at:.1f} s with {in_chat_at_kill} in Delta Chat; all sent in {sent_in:.1f} s; "
        f"all shown after {done_in:.1f} s")
    timings["Matrix send -> shown in Delta Chat: p50 / p99"] = (
        f"{statistics.median(latency):.1f} s / {latency[int(len(latency) * 0.99) - 1]:.1f} s")
    timings["shown out of place"] = f"{out_of_place([m.text for m in shown], texts)} of {COUNT}"
    # The bridge must have died with messages still owed to mail, or this proves nothing.
    assert in_chat_at_kill < KILL_AFTER
    assert [m.text for m in shown] == texts  # each once, in the order Mia sent them
    assert all(m.sender_addr.lower() == mia_puppet for m in shown)
    dates = [m.raw["timestamp"] for m in shown]
    assert all(a < b for a, b in zip(dates, dates[1:])), dates
