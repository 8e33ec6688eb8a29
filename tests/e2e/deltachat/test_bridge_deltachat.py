"""coi-bridge end to end with Delta Chat core as the real peer.

The real coi-bridge binary ($COIBRIDGE_BINARY) runs with a COI connector "mail" for a fresh
stack account and a spool connector "spool" (files) on the other side; every test links the
1:1 chat `mail:dm:<Delta Chat address>` with `spool:room` through the REST API. A Delta Chat
account (a fresh stack user, force_encryption=0) talks to the bridge's address and to its
puppets (<bridge local>+spool.<id>@domain), and the tests read what the spool wrote
(out/<event id>--<digest>.json and the append-only out/deliveries.log) or put events into the
spool's inbox (in/NNN.json).

Order: scripts/stack's Postfix delivers serially (lmtp_destination_concurrency_limit = 1), a
provider's in parallel, and neither promises to keep the order mails were submitted in. The
ordering tests assert the order at the bridge's boundaries (submitted in spool order;
published in mailbox order) and what Delta Chat shows, with Postfix delivering in parallel
where the bridge's Dates must keep the order (see "Order over mail" below).

Fixtures: conftest.py (make_account, new_user, make_bridge, bridge, timings).
"""

from __future__ import annotations

import email
import email.policy
import re
import statistics
import time
import uuid
from pathlib import Path

import pytest

from dcpeer import CONTACT_ID_DEVICE, CONTACT_ID_INFO, CONTACT_ID_SELF, Msg, find_raw_mail, maildir_path, parallel_delivery

def token() -> str:
    return uuid.uuid4().hex[:8]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def spool_message(text: str, origin: str, *, who: str = "rita", name: str = "Remote Rita",
                  room: str = "room") -> dict:
    """An inbox event as a script writes it: the spool fills in id, at and the connectors."""
    return {
        "where": {"remote_id": room},
        "who": {"connector": "spool", "remote_id": who, "display_name": name},
        "origin": {"remote_id": origin},
        "payload": {"kind": "message.posted", "body": {"text": text}},
    }


def dc_user(new_user, make_account, displayname: str):
    addr, password = new_user("dc")
    return make_account(addr, password, displayname)


def incoming_in_chats(acc) -> list:
    """Every incoming (not own, not info) message of the account's normal chats, as Msg,
    ordered by message id (the order Delta Chat received them in)."""
    out = []
    for chat_id in acc.chat_ids():
        if chat_id <= 9:
            continue
        for mid in acc.rpc.get_message_ids(acc.id, chat_id, False, False):
            m = acc.rpc.get_message(acc.id, mid)
            if m["fromId"] in (CONTACT_ID_SELF, CONTACT_ID_INFO, CONTACT_ID_DEVICE) or m.get("isInfo"):
                continue
            out.append(Msg.from_rpc(m))
    out.sort(key=lambda m: m.id)
    return out


def watch_incoming(acc, want: list, timeout: float = 60) -> dict:
    """Waits until every text in `want` arrived as an incoming message; returns
    {text: monotonic time it was first seen}. Polls after every core event (at least every
    0.25 s), so the times are accurate to the event delivery."""
    first_seen: dict = {}
    known: set = set()
    wanted = set(want)

    def cond():
        now = time.monotonic()
        for chat_id in acc.chat_ids():
            if chat_id <= 9:
                continue
            for mid in acc.rpc.get_message_ids(acc.id, chat_id, False, False):
                if mid in known:
                    continue
                m = acc.rpc.get_message(acc.id, mid)
                if m.get("downloadState") not in (None, "Done"):
                    continue
                known.add(mid)
                text = m.get("text") or ""
                if m["fromId"] != CONTACT_ID_SELF and text in wanted:
                    first_seen.setdefault(text, now)
        return len(first_seen) == len(wanted)

    acc.wait_until(cond, f"{len(wanted)} incoming messages ({len(first_seen)} seen: "
                         f"{sorted(first_seen)[:5]}...)", timeout)
    return first_seen


def event_of(delivery: dict) -> dict:
    return delivery["event"]


def texts_of(outbox: list) -> list:
    return [d["event"]["payload"].get("body", {}).get("text") for _, d in outbox]


def assert_log_written_once(bridge, n: int) -> None:
    """deliveries.log: n different events written, none written twice (a repeat of a delivery
    after a crash may add an 'already-present' line, never a second 'written')."""
    written = [line.split(" ")[0] for line in bridge.deliveries_log() if line.endswith(" written")]
    assert len(written) == n, bridge.deliveries_log()
    assert len(set(written)) == n, bridge.deliveries_log()


# --------------------------------------------------------------------------------------------
# Order over mail. Postfix delivers to Dovecot over LMTP with up to
# lmtp_destination_concurrency_limit parallel connections (default 20), so mails submitted
# one after the other can land in the mailbox (and get UIDs) in another order; even one at a
# time, its queue manager does not promise the order it was given. Into mail the bridge gives
# each message of a conversation its own Date second, not before that second has come
# (connectors/coi/mail_date_clock.hpp), and Delta Chat shows a chat by Date: what it shows is
# in order however the mails arrive, so the test lets Postfix deliver in parallel. Out of mail
# the bridge publishes in mailbox order (Date order within one fetch); what the mailbox got
# out of order, the spool gets out of order too, and nothing else.


def inversions(seq: list, want: list) -> set:
    """The pairs of seq that are in the other order in want."""
    pos = {t: i for i, t in enumerate(want)}
    return {(a, b) for i, a in enumerate(seq) for b in seq[i + 1:] if pos[a] > pos[b]}


def maillog_path(stack) -> Path:
    return stack.dir / "postfix" / "maillog"


def maillog_offset(stack) -> int:
    try:
        return maillog_path(stack).stat().st_size
    except FileNotFoundError:
        return 0


def submissions(stack, sasl_user: str, since: int = 0) -> list:
    """Message-IDs (without <>) of the mails sasl_user submitted, in the order Postfix
    accepted them (its maillog from byte offset `since`)."""
    with open(maillog_path(stack), "rb") as f:
        f.seek(since)
        lines = f.read().decode(errors="replace").splitlines()
    # Postfix reuses a queue id once its mail has left the queue: each client= line takes
    # the next message-id line of its queue id.
    out: list = []
    open_slot = {}  # queue id -> index in out waiting for its message-id
    for line in lines:
        m = re.search(r"\]: ([0-9A-F]+): client=.*sasl_username=(\S+)$", line)
        if m and m.group(2).lower() == sasl_user.lower():
            open_slot[m.group(1)] = len(out)
            out.append(f"?{m.group(1)}")
            continue
        m = re.search(r"\]: ([0-9A-F]+): message-id=<([^>]*)>", line)
        if m and m.group(1) in open_slot:
            out[open_slot.pop(m.group(1))] = m.group(2)
    return out


def mailbox_uid_order(stack, user: str) -> list:
    """Message-IDs (without <>) of a user's INBOX in UID order (Dovecot's dovecot-uidlist)."""
    d = maildir_path(stack, user)
    files = {}
    for sub in ("new", "cur"):
        for f in (d / sub).iterdir() if (d / sub).is_dir() else []:
            files[f.name.split(":", 1)[0]] = f
    out = []
    for line in (d / "dovecot-uidlist").read_text().splitlines()[1:]:
        if ":" not in line:
            continue
        base = line.split(":", 1)[1].strip()
        f = files.get(base)
        if f is None:
            continue
        with open(f, "rb") as fh:
            msg = email.message_from_binary_file(fh, policy=email.policy.default)
        out.append((msg.get("Message-ID") or "").strip().strip("<>"))
    return out


def out_of_place(got: list, want: list) -> str:
    n = sum(1 for a, b in zip(got, want) if a != b)
    return f"{n} of {len(want)}" + ("" if n == 0 else f" (order {[want.index(g) + 1 for g in got]})")



# --------------------------------------------------------------------------------------------
# 1. Delta Chat -> spool


def test_delta_chat_to_puppet_and_bridge_address_is_one_event_each(bridge, make_account, new_user, timings):
    alice = dc_user(new_user, make_account, "Alice Ünal")
    bridge.link(f"dm:{alice.addr}", "room")
    local = bridge.address.split("@")[0]
    puppet = bridge.puppet_address("spool", "u1")
    assert puppet == f"{local}+spool.u1@{bridge.stack.domain}"
    tok = token()

    # to the puppet of spool person u1
    text1 = f"to the puppet ✓ {tok}"
    t0 = time.monotonic()
    id1 = alice.send_text(alice.chat_with(puppet), text1)
    bridge.wait_outbox(1)
    timings["Delta Chat send -> spool file (single message)"] = ms(time.monotonic() - t0)

    # to the bridge address itself
    text2 = f"to the bridge ✓ {tok}"
    id2 = alice.send_text(alice.chat_with(bridge.address), text2)
    bridge.wait_outbox(2)

    out = bridge.outbox_through_marker(lambda text: alice.send_text(alice.chat_with(bridge.address), text))
    assert texts_of(out) == [text1, text2], out
    for (fname, d), (msg_id, text) in zip(out, [(id1, text1), (id2, text2)]):
        e = event_of(d)
        assert fname.startswith(d["event_id"] + "--") and d["event_id"] == e["id"]
        assert d["target"] == {"connector": "spool", "remote_id": "room"}
        assert e["payload"]["kind"] == "message.posted"
        assert e["payload"]["body"]["text"] == text
        assert e["payload"]["body"].get("reply_to") is None
        assert e["who"] == {"connector": "mail", "remote_id": alice.addr, "display_name": "Alice Ünal"}
        assert e["where"] == {"connector": "mail", "remote_id": f"dm:{alice.addr}"}
        assert e["origin"] == {"connector": "mail", "remote_id": alice.message_id_header(msg_id)}
    assert_log_written_once(bridge, 3)  # and the marker
    assert len(bridge.deliveries_log()) == 3, bridge.deliveries_log()
    assert bridge.sql("SELECT count(*) FROM messages") == "3"


def test_mail_to_a_puppet_goes_to_the_chat_with_that_person_when_linked(bridge, make_account, new_user):
    """A linked "dm:<address>|<puppet>" conversation is the direct chat with one person of the
    other network; it takes precedence over the chat with the bridge account."""
    alice = dc_user(new_user, make_account, "Alice DC")
    puppet = bridge.puppet_address("spool", "u7")
    bridge.link(f"dm:{alice.addr}", "room", name="general")
    bridge.link(f"dm:{alice.addr}|{puppet}", "direct-u7", name="direct")
    tok = token()
    alice.send_text(alice.chat_with(puppet), f"just for u7 {tok}")
    alice.send_text(alice.chat_with(bridge.address), f"for everyone {tok}")
    bridge.wait_outbox(2)
    out = bridge.outbox_through_marker(lambda text: alice.send_text(alice.chat_with(bridge.address), text))
    assert len(out) == 2, out
    got = {d["event"]["payload"]["body"]["text"]: (d["target"]["remote_id"], d["event"]["where"]["remote_id"])
           for _, d in out}
    assert got == {f"just for u7 {tok}": ("direct-u7", f"dm:{alice.addr}|{puppet}"),
                   f"for everyone {tok}": ("room", f"dm:{alice.addr}")}


# --------------------------------------------------------------------------------------------
# 2. spool -> Delta Chat, puppet and relay identity


@pytest.mark.parametrize("identity", ["puppet", "relay"])
def test_spool_event_reaches_delta_chat_under_the_remote_name(identity, make_bridge, make_account, new_user,
                                                               stack, timings):
    bridge = make_bridge(identity=identity)
    alice = dc_user(new_user, make_account, "Alice DC")
    bridge.link(f"dm:{alice.addr}", "room")
    tok = token()
    text = f"hello from Rita ✓ {tok}"

    t0 = time.monotonic()
    bridge.drop("001", spool_message(text, f"s-{tok}"))
    got = alice.wait_for_message(text=text)
    timings[f"spool file -> Delta Chat IncomingMsg ({identity}, single message)"] = ms(time.monotonic() - t0)

    assert got.text == text
    assert got.shown_name == "Remote Rita"
    if identity == "puppet":
        sender = bridge.puppet_address("spool", "rita")
        assert got.sender_addr == sender
        assert got.sender_name == "Remote Rita"  # the puppet contact's name
        assert got.override_sender_name is None
    else:
        sender = bridge.address
        assert got.sender_addr == sender
        assert got.override_sender_name == "Remote Rita"  # per-message name, From + Sender
    info = alice.chat_info(got.chat_id)
    assert info["chatType"] == "Single"
    assert info["isContactRequest"]  # first message from that address

    # on the wire: one chat mail from the sender with the derived chat$ Message-ID
    mid = alice.message_id_header(got)
    assert mid.startswith("chat$") and mid.endswith("@" + stack.domain), mid
    raw = find_raw_mail(stack, alice.addr, message_id=mid)
    assert raw["Chat-Version"] == "1.0"
    assert raw["From"].addresses[0].addr_spec == sender
    assert raw["From"].addresses[0].display_name == "Remote Rita"
    if identity == "relay":
        assert raw["Sender"].addresses[0].addr_spec == bridge.address
    assert raw.body_text().strip() == text

    bridge.marker_to(alice)
    incoming = [m for m in incoming_in_chats(alice) if tok in m.text]
    assert [m.text for m in incoming] == [text]  # exactly once
    assert alice.chat_with(sender) == got.chat_id  # the chat with the puppet / bridge address
    assert bridge.sql("SELECT count(*) FROM outbox") == "0"


# --------------------------------------------------------------------------------------------
# 3. Ordering, both ways


def test_twenty_spool_messages_are_shown_in_delta_chat_in_order(bridge, make_account, new_user, stack, timings):
    alice = dc_user(new_user, make_account, "Alice DC")
    bridge.link(f"dm:{alice.addr}", "room")
    tok = token()
    texts = [f"spool order {i:03d} {tok}" for i in range(1, 21)]
    log_from = maillog_offset(stack)

    dropped = {}
    with parallel_delivery(stack):
        t_start = time.monotonic()
        for i, text in enumerate(texts, 1):
            dropped[text] = time.monotonic()
            bridge.drop(f"{i:03d}", spool_message(text, f"o-{tok}-{i:03d}"))
        seen = watch_incoming(alice, texts, timeout=120)
    total = time.monotonic() - t_start
    lat = [seen[t] - dropped[t] for t in texts]
    timings["spool file -> Delta Chat incoming, 20 in a row: p50"] = ms(statistics.median(lat))
    timings["spool file -> Delta Chat incoming, 20 in a row: max"] = ms(max(lat))
    timings["spool file -> Delta Chat incoming, 20 in a row: all 20"] = ms(total)

    marker_mid = alice.message_id_header(bridge.marker_to(alice))
    incoming = [m for m in incoming_in_chats(alice) if tok in m.text]
    # exactly once each, all from Rita's puppet, in one chat
    assert sorted(m.text for m in incoming) == texts
    assert all(m.sender_addr == bridge.puppet_address("spool", "rita") and m.shown_name == "Remote Rita"
               for m in incoming)
    chats = {m.chat_id for m in incoming}
    assert len(chats) == 1, chats
    shown_msgs = [m for m in alice.messages(chats.pop()) if m.incoming and tok in m.text]
    shown = [m.text for m in shown_msgs]

    # the bridge handed them to the mail server one by one in spool order
    text_of_mid = {alice.message_id_header(m): m.text for m in incoming}
    submitted = [text_of_mid.get(mid, mid) for mid in submissions(stack, bridge.address, log_from)
                 if mid != marker_mid]
    assert submitted == texts

    # the mail server may have delivered them in another order (Delta Chat's message ids are
    # the order of arrival); what Delta Chat shows is the spool's order, each with a Date
    # second of its own
    received = [m.text for m in incoming]
    timings["spool -> Delta Chat, 20 in a row: received out of place (Postfix in parallel)"] = \
        out_of_place(received, texts)
    timings["spool -> Delta Chat, 20 in a row: shown out of place"] = out_of_place(shown, texts)
    assert shown == texts
    dates = [m.raw["timestamp"] for m in shown_msgs]
    assert all(a < b for a, b in zip(dates, dates[1:])), dates


def test_ten_delta_chat_messages_arrive_in_the_spool_in_order(bridge, make_account, new_user, stack, timings):
    alice = dc_user(new_user, make_account, "Alice DC")
    bridge.link(f"dm:{alice.addr}", "room")
    chat = alice.chat_with(bridge.address)
    tok = token()
    texts = [f"dc order {i:02d} {tok}" for i in range(1, 11)]

    sent = {}
    ids = []
    for text in texts:
        sent[text] = time.monotonic()
        ids.append(alice.send_text(chat, text))
    appeared: dict = {}
    deadline = time.monotonic() + 120
    while len(appeared) < len(texts):
        now = time.monotonic()
        for _, d in bridge.outbox():
            appeared.setdefault(d["event"]["payload"]["body"]["text"], now)
        if time.monotonic() > deadline:
            raise AssertionError(f"only {sorted(appeared)} reached the spool:\n{bridge.log_tail(40)}")
        time.sleep(0.01)
    lat = [appeared[t] - sent[t] for t in texts]
    timings["Delta Chat send -> spool file, 10 in a row: p50"] = ms(statistics.median(lat))
    timings["Delta Chat send -> spool file, 10 in a row: max"] = ms(max(lat))

    out = bridge.outbox_through_marker(lambda text: alice.send_text(chat, text))
    spooled = texts_of(out)  # deliveries.log order
    assert sorted(spooled) == texts  # exactly once each
    assert_log_written_once(bridge, 11)  # and the marker
    origin = {alice.message_id_header(i): t for i, t in zip(ids, texts)}
    assert {d["event"]["origin"]["remote_id"]: d["event"]["payload"]["body"]["text"] for _, d in out} == origin

    # the order its mailbox received them in (UID order)
    in_mailbox = [origin[mid] for mid in mailbox_uid_order(stack, bridge.address) if mid in origin]

    # in the order sent, but for what the mail server swapped: Delta Chat gives the mails of
    # one second the same Date, so nothing tells the bridge their order but the mailbox
    timings["Delta Chat -> spool, 10 in a row: out of place"] = out_of_place(spooled, texts)
    assert inversions(spooled, texts) <= inversions(in_mailbox, texts), (spooled, in_mailbox)


# --------------------------------------------------------------------------------------------
# 4. Replies


def test_reply_quoting_a_bridged_message_refers_to_the_spool_id(bridge, make_account, new_user):
    alice = dc_user(new_user, make_account, "Alice DC")
    bridge.link(f"dm:{alice.addr}", "room")
    tok = token()
    question = f"question from Rita {tok}?"
    bridge.drop("001", spool_message(question, f"q-{tok}"))
    q = alice.wait_for_message(text=question)
    alice.accept_chat(q.chat_id)

    # a reply quoting Rita's message: reply_to is the spool's own id of it (its origin)
    answer = f"answer to Rita {tok}"
    alice.reply(q, answer)
    [(_, d)] = bridge.wait_outbox(1, pred=lambda d: d["event"]["payload"].get("body", {}).get("text") == answer)
    e = d["event"]
    assert e["payload"]["kind"] == "message.posted"
    assert e["who"]["remote_id"] == alice.addr and e["who"]["display_name"] == "Alice DC"
    assert e["where"] == {"connector": "mail", "remote_id": f"dm:{alice.addr}"}
    assert e["payload"]["body"]["reply_to"] == {"connector": "spool", "remote_id": f"q-{tok}"}

    # a reply quoting Alice's own message that went to the spool: reply_to is the file name
    # the spool wrote for it
    own = f"a note of Alice {tok}"
    own_id = alice.send_text(q.chat_id, own)
    [(own_file, _)] = bridge.wait_outbox(
        1, pred=lambda d: d["event"]["payload"].get("body", {}).get("text") == own)
    again = f"about my note {tok}"
    alice.reply(own_id, again)
    [(_, d2)] = bridge.wait_outbox(1, pred=lambda d: d["event"]["payload"].get("body", {}).get("text") == again)
    assert d2["event"]["payload"]["body"]["reply_to"] == {"connector": "spool", "remote_id": own_file}

    assert texts_of(bridge.outbox_through_marker(lambda text: alice.send_text(q.chat_id, text))) == [answer, own, again]


def test_spool_replies_show_in_delta_chat_as_quotes_of_the_messages_they_answer(bridge, make_account, new_user):
    alice = dc_user(new_user, make_account, "Alice DC")
    bridge.link(f"dm:{alice.addr}", "room")
    tok = token()
    question = f"question from Rita {tok}?"
    bridge.drop("001", spool_message(question, f"q-{tok}"))
    q = alice.wait_for_message(text=question)
    alice.accept_chat(q.chat_id)
    note = f"a note of Alice {tok}"
    note_id = alice.send_text(q.chat_id, note)
    [(note_file, _)] = bridge.wait_outbox(1, pred=lambda d: d["event"]["payload"].get("body", {}).get("text") == note)

    # Rita answers Alice's note (by the spool's id of it) and then her own question (by its
    # origin): Delta Chat shows each as a reply, quoting the message it answers.
    for i, (reply_to, answered, answered_id) in enumerate(((note_file, note, note_id),
                                                           (f"q-{tok}", question, q.id))):
        text = f"Rita's answer {i} {tok}"
        event = spool_message(text, f"r{i}-{tok}")
        event["payload"]["body"]["reply_to"] = {"connector": "spool", "remote_id": reply_to}
        bridge.drop(f"00{i + 2}", event)
        got = alice.wait_for_message(text=text)
        assert got.quote_text == answered, got.raw
        assert got.quote_msg_id == answered_id, got.raw


def test_a_message_to_a_chat_nothing_links_is_listed_as_unlinked(bridge, make_account, new_user):
    alice = dc_user(new_user, make_account, "Alice DC")
    chat = alice.chat_with(bridge.address)
    tok = token()
    for i in range(3):
        alice.send_text(chat, f"anyone there? {i} {tok}")
    want = f"dm:{alice.addr}".lower()
    deadline = time.monotonic() + 60
    while True:
        status, body = bridge.api("GET", "/api/v1/unlinked?connector=mail")
        assert status == 200, body
        found = [i for i in body["items"] if i["conversation"].lower() == want]
        if found and found[0]["count"] == 3:
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
    assert found[0]["kind"] == "direct" and found[0]["connector"] == "mail", found
    assert found[0]["title"].lower() == f"alice dc <{alice.addr}>".lower(), found  # Delta Chat's From name
    assert texts_of(bridge.outbox()) == []  # nothing crossed


# --------------------------------------------------------------------------------------------
# 5. Reactions


def test_reaction_on_a_bridged_message_becomes_reaction_changed(bridge, make_account, new_user):
    alice = dc_user(new_user, make_account, "Alice DC")
    bridge.link(f"dm:{alice.addr}", "room")
    tok = token()
    text = f"react to this {tok}"
    bridge.drop("001", spool_message(text, f"r-{tok}"))
    m = alice.wait_for_message(text=text)
    alice.accept_chat(m.chat_id)

    alice.react(m, "👍")
    [(_, d)] = bridge.wait_outbox(1)
    e = d["event"]
    assert e["payload"] == {"kind": "reaction.changed", "target": {"connector": "spool", "remote_id": f"r-{tok}"},
                            "reaction": "👍", "added": True}
    assert e["who"] == {"connector": "mail", "remote_id": alice.addr, "display_name": "Alice DC"}
    assert e["where"] == {"connector": "mail", "remote_id": f"dm:{alice.addr}"}
    assert d["target"] == {"connector": "spool", "remote_id": "room"}
    out = bridge.outbox_through_marker(lambda text: alice.send_text(m.chat_id, text))
    assert len(out) == 1, out


def test_spool_reaction_shows_on_the_delta_chat_message_it_targets(bridge, make_account, new_user):
    """The other direction of 5: a reaction from the other network, naming its own id of a
    message that came from Delta Chat, lands on that very message in Delta Chat (the core
    translates the spool's id back to the Message-ID; RFC 9078 over plain mail)."""
    alice = dc_user(new_user, make_account, "Alice DC")
    bridge.link(f"dm:{alice.addr}", "room")
    chat = alice.chat_with(bridge.address)
    tok = token()
    mine = alice.send_text(chat, f"react to me {tok}")
    [(spool_id, _)] = bridge.wait_outbox(1)

    reaction = spool_message("", f"react-{tok}")
    reaction["payload"] = {"kind": "reaction.changed", "target": {"connector": "spool", "remote_id": spool_id},
                           "reaction": "\U0001F44D", "added": True}
    bridge.drop("002", reaction)
    got = alice.wait_for_reaction(mine, "\U0001F44D")
    puppet = next(who for who, e in got.items() if e == "\U0001F44D")
    assert puppet.lower().startswith(bridge.address.split("@")[0] + "+spool.rita@")
    # A reaction is not a message: nothing new appears in the chat.
    assert [m.text for m in incoming_in_chats(alice)] == []


# --------------------------------------------------------------------------------------------
# Groups (issue test 3): three Delta Chat users and a puppet in one unencrypted group.


def test_group_of_three_delta_chat_users_and_a_puppet(bridge, make_account, new_user):
    alice = dc_user(new_user, make_account, "Alice DC")
    bob = dc_user(new_user, make_account, "Bob DC")
    carol = dc_user(new_user, make_account, "Carol DC")
    rita = bridge.puppet_address("spool", "rita")
    tok = token()
    group = alice.create_group(f"Team {tok}", [bob.addr, carol.addr, rita])
    first = alice.send_text(group, f"welcome {tok}")
    root = alice.message_id_header(first)
    # The group conversation is named by its thread root; an admin links it once it exists.
    conversation = f"adhoc:{root}"
    deadline = time.monotonic() + 30
    while bridge.sql(f"SELECT count(*) FROM conversation_state WHERE conversation = '{conversation}'") != "1":
        assert time.monotonic() < deadline, bridge.log_tail()
        time.sleep(0.1)
    bridge.link(conversation, "team")

    b_first = bob.wait_for_message(text=f"welcome {tok}")
    c_first = carol.wait_for_message(text=f"welcome {tok}")
    bob.accept_chat(b_first.chat_id)
    carol.accept_chat(c_first.chat_id)
    bob.send_text(b_first.chat_id, f"bob here {tok}")
    carol.reply(c_first, f"carol answers alice {tok}")
    out = bridge.wait_outbox(2)
    by_text = {d["event"]["payload"]["body"]["text"]: d["event"] for _, d in out}
    assert set(by_text) == {f"bob here {tok}", f"carol answers alice {tok}"}
    for e in by_text.values():
        assert e["where"] == {"connector": "mail", "remote_id": conversation}
    assert by_text[f"bob here {tok}"]["who"]["remote_id"] == bob.addr
    assert by_text[f"carol answers alice {tok}"]["who"]["remote_id"] == carol.addr
    # The reply names the message it quotes (by its Message-ID, as nothing else knows it).
    assert by_text[f"carol answers alice {tok}"]["payload"]["body"]["reply_to"] == {"connector": "mail", "remote_id": root}

    # From the other network into the group: every member sees it in the same group chat.
    bridge.drop("001", spool_message(f"rita in the group {tok}", f"g-{tok}", room="team"))
    for acc, chat in ((alice, group), (bob, b_first.chat_id), (carol, c_first.chat_id)):
        m = acc.wait_for_message(text=f"rita in the group {tok}")
        assert m.chat_id == chat, (acc, m.chat_id, chat)
        assert m.shown_name == "Remote Rita"

    # Membership changes become events.
    dave = dc_user(new_user, make_account, "Dave DC")
    alice.rpc.add_contact_to_chat(alice.id, group, alice.contact_id(dave.addr))
    alice.rpc.remove_contact_from_chat(alice.id, group, alice.contact_id(bob.addr))
    out = bridge.wait_outbox(4)
    kinds = [(d["event"]["payload"]["kind"], d["event"]["payload"].get("member", {}).get("remote_id")) for _, d in out[2:]]
    assert kinds == [("member.joined", dave.addr), ("member.left", bob.addr)], kinds
    out = bridge.outbox_through_marker(lambda text: alice.send_text(group, text))
    assert len(out) == 4, out


# --------------------------------------------------------------------------------------------
# Attachments (issue test 6): an image crosses both ways byte for byte.


def make_png(seed: str, side: int = 48) -> bytes:
    """A small valid PNG whose pixels depend on seed, so every test run sends new bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    h = uuid.uuid5(uuid.NAMESPACE_OID, seed).bytes
    rows = b"".join(b"\0" + bytes((h[(x + y) % 16] ^ x ^ (y * 7)) & 0xFF for x in range(side * 3))
                    for y in range(side))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_image_from_delta_chat_reaches_the_spool_byte_identical(bridge, make_account, new_user, tmp_path):
    alice = dc_user(new_user, make_account, "Alice DC")
    bridge.link(f"dm:{alice.addr}", "room")
    tok = token()
    png = make_png(tok)
    path = tmp_path / f"cat-{tok}.png"
    path.write_bytes(png)
    chat = alice.chat_with(bridge.address)
    alice.send_file(chat, path, text=f"a picture {tok}", viewtype="Image")

    [(_, d)] = bridge.wait_outbox(1)
    body = d["event"]["payload"]["body"]
    assert body["text"] == f"a picture {tok}"
    [att] = body["attachments"]
    assert att["content_type"] == "image/png"
    assert att["filename"].endswith(".png")
    assert att["size"] == len(png)
    assert att["location"].startswith("blob:sha256:")
    [f] = d["files"]
    assert f["location"] == att["location"]
    assert (bridge.outbox_dir / f["path"]).read_bytes() == png
    assert d["event"]["who"] == {"connector": "mail", "remote_id": alice.addr, "display_name": "Alice DC"}


def test_image_from_the_spool_reaches_delta_chat_byte_identical(bridge, make_account, new_user):
    alice = dc_user(new_user, make_account, "Alice DC")
    bridge.link(f"dm:{alice.addr}", "room")
    tok = token()
    png = make_png(tok)
    (bridge.inbox / f"pic-{tok}.png").write_bytes(png)
    event = spool_message(f"look {tok}", f"img-{tok}")
    event["payload"]["body"]["attachments"] = [
        {"filename": f"pic-{tok}.png", "content_type": "image/png", "size": 0, "location": f"file:pic-{tok}.png"}]
    bridge.drop("001", event)

    m = alice.wait_for_message(text=f"look {tok}")
    assert m.shown_name == "Remote Rita"
    assert m.view_type == "Image", m.raw
    assert m.file_mime == "image/png"
    assert m.file_bytes() == png
    assert bridge.sql("SELECT count(*) FROM blobs") == "1"


# --------------------------------------------------------------------------------------------
# 6. Restart safety


def test_sigkill_and_restart_lose_and_duplicate_nothing(bridge, make_account, new_user, stack, timings):
    alice = dc_user(new_user, make_account, "Alice DC")
    bridge.link(f"dm:{alice.addr}", "room")
    chat = alice.chat_with(bridge.address)
    tok = token()
    texts = [f"restart {i} {tok}" for i in range(1, 7)]

    ids = [alice.send_text(chat, t) for t in texts[:3]]
    bridge.wait_outbox(3)
    assert bridge.kill() == -9

    # while it is down: Delta Chat sends 3 more, and they reach the bridge's mailbox
    ids += [alice.send_text(chat, t) for t in texts[3:]]
    for i, t in zip(ids[3:], texts[3:]):
        alice.wait_delivered(i)
        find_raw_mail(stack, bridge.address, contains=t, timeout=30)
    t0 = time.monotonic()
    bridge.start()
    bridge.wait_outbox(6, timeout=60)
    timings["restart after SIGKILL -> 3 waiting mails in the spool"] = ms(time.monotonic() - t0)

    out = bridge.outbox_through_marker(lambda text: alice.send_text(chat, text))
    assert texts_of(out) == texts  # exactly 6, in order, no duplicates
    assert len({d["event"]["id"] for _, d in out}) == 6
    assert [d["event"]["origin"]["remote_id"] for _, d in out] == [alice.message_id_header(i) for i in ids]
    assert_log_written_once(bridge, 7)  # and the marker
    assert bridge.sql("SELECT count(*) FROM messages") == "7"
    assert bridge.sql("SELECT count(*) FROM outbox") == "0"
