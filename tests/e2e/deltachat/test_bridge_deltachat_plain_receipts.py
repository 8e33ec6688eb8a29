"""coi-bridge end to end with Delta Chat core 2.62.0, the plaintext legacy peer: read receipts,
edits and deletes over unencrypted mail.

Run with the venv from `scripts/e2e-venv --dc-version 2.62.0 --venv .cache/e2e-venv-dc262`
(ctest: deltachat_bridge_plain_receipts). Core 2.63 and later never ask for nor send read
receipts (MDNs) for unencrypted mail, so only 2.62.0 can show receipts crossing plain mail in
both directions with a real client. What 2.62.0 does with unencrypted mail, measured against
the test stack:

  read receipts  asks for one on every message (Chat-Disposition-Notification-To = From);
                 sends an MDN for a message that asked for one the same way, once its chat
                 is accepted and the message is marked seen; applies an MDN for a message it
                 sent, from any sender (the message then has state OutMdnRcvd and lists the
                 reader in its read receipts)
  edits          sends Chat-Edit in the top-level header of a single text/plain mail, after
                 a quote of the original and the pencil; applies an edit only when Chat-Edit
                 is in the first part of a multipart/mixed (the legacy hidden-header place),
                 not when it is in the top-level header
  deletes        refuses delete-for-everyone of an unencrypted message ("Cannot request
                 deletion of unencrypted message for others") and ignores an unencrypted
                 Chat-Delete ("Delete message: Not encrypted."), wherever it is

Core 2.65.0 behaves the same (measured) in everything but asking for and sending receipts,
which only the read-receipt tests depend on. Deletes cannot cross
plain mail with Delta Chat in either direction: the delete tests assert exactly that
(nothing is sent; the bridge's request arrives and is ignored), and fail the day a Delta
Chat version, or an encrypted chat, honours them.

Every test links `mail:dm:<Delta Chat address>` with `spool:room`, as test_bridge_deltachat.py
does; fixtures are in conftest.py.
"""

from __future__ import annotations

import re
import quopri
import time
import uuid

import pytest

from dcpeer import (CONTACT_ID_DEVICE, CONTACT_ID_INFO, CONTACT_ID_SELF, STATE_OUT_MDN_RCVD, JsonRpcError,
                    Msg, find_raw_mail, maildir_messages)

RITA = {"connector": "spool", "remote_id": "rita", "display_name": "Remote Rita"}


def token() -> str:
    return uuid.uuid4().hex[:8]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def spool_event(origin: str, payload: dict, room: str = "room") -> dict:
    """An inbox event from Rita as a script writes it; the spool fills in id and at."""
    return {"where": {"remote_id": room}, "who": dict(RITA), "origin": {"remote_id": origin},
            "payload": payload}


def posted(text: str) -> dict:
    return {"kind": "message.posted", "body": {"text": text}}


def payload_kind(d: dict) -> str:
    return d["event"]["payload"]["kind"]


def linked_alice(bridge, make_account, new_user):
    addr, password = new_user("dc")
    alice = make_account(addr, password, "Alice DC")
    assert alice.server.version == "v2.62.0", (
        f"this file needs Delta Chat core 2.62.0 (plaintext receipts), not {alice.server.version}: "
        "run it with .cache/e2e-venv-dc262/bin/python (scripts/e2e-venv --dc-version 2.62.0 "
        "--venv .cache/e2e-venv-dc262)")
    bridge.link(f"dm:{alice.addr}", "room")
    return alice


def incoming_with(acc, tok: str) -> list:
    """Incoming (not own, not info) messages of the account's normal chats whose text holds tok."""
    out = []
    for chat_id in acc.chat_ids():
        if chat_id <= 9:  # special chats
            continue
        for mid in acc.rpc.get_message_ids(acc.id, chat_id, False, False):
            m = acc.rpc.get_message(acc.id, mid)
            if m["fromId"] in (CONTACT_ID_SELF, CONTACT_ID_INFO, CONTACT_ID_DEVICE) or m.get("isInfo"):
                continue
            if tok in (m.get("text") or ""):
                out.append(Msg.from_rpc(m))
    return sorted(out, key=lambda m: m.id)


def mdn_field(raw, name: str) -> str:
    """A field of the message/disposition-notification part of an MDN, from the raw bytes."""
    m = re.search(rf"^{name}:[ \t]*(.*?)\r?$", raw.text, re.MULTILINE | re.IGNORECASE)
    assert m, f"no {name} in the MDN:\n{raw.text}"
    return m.group(1).strip()


def mdns_for(stack, user: str, original_mid: str) -> list:
    """The MDNs in a user's INBOX that acknowledge original_mid (without <>)."""
    def decoded(m) -> str:
        # The report part may be quoted-printable: a long Message-ID is soft-wrapped there.
        out = []
        for part in m.msg.walk():
            if part.get_content_type() == "message/disposition-notification":
                # Python parses this part as header blocks, which QP soft breaks split apart;
                # decoded, a long Message-ID may still carry the line break Python put there.
                out.append(quopri.decodestring(part.as_bytes()).decode(errors="replace"))
            elif payload := part.get_payload(decode=True):
                out.append(payload.decode(errors="replace"))
        return "\n".join(out)

    return [m for m in maildir_messages(stack, user)
            if "disposition-notification" in str(m.get("Content-Type") or "")
            and f"<{original_mid}>" in decoded(m).replace("\n", "")]


def first_part_header(raw, name: str):
    parts = raw.msg.get_payload() if raw.msg.is_multipart() else []
    return parts[0].get(name) if parts else None


# --------------------------------------------------------------------------------------------
# (a) Delta Chat reads a bridged message -> read.up_to on the spool


def test_delta_chat_read_receipt_becomes_read_up_to_on_the_spool_message(bridge, make_account, new_user,
                                                                          stack, timings):
    alice = linked_alice(bridge, make_account, new_user)
    tok = token()
    text = f"please read me {tok}"
    bridge.drop("001", spool_event(f"s-{tok}", posted(text)))
    m = alice.wait_for_message(text=text)
    mid = alice.message_id_header(m)
    puppet = bridge.puppet_address("spool", "rita")

    # Delta Chat answers only a request naming the From address (src/mimeparser.rs WantsMdn).
    raw = find_raw_mail(stack, alice.addr, message_id=mid)
    assert raw["From"].addresses[0].addr_spec == puppet
    assert str(raw.get("Chat-Disposition-Notification-To") or "").strip().strip("<>") == puppet, \
        f"the bridged mail asks for no read receipt:\n{raw.header_block()}"

    # No receipts from a contact request: Alice accepts the chat first, as a user would.
    alice.accept_chat(m.chat_id)
    t0 = time.monotonic()
    alice.mark_seen([m])
    [(_, d)] = bridge.wait_outbox(1, pred=lambda d: payload_kind(d) == "read.up_to")
    timings["Delta Chat markseen -> spool read.up_to"] = ms(time.monotonic() - t0)

    e = d["event"]
    assert e["payload"] == {"kind": "read.up_to", "target": {"connector": "spool", "remote_id": f"s-{tok}"}}
    assert e["who"]["connector"] == "mail" and e["who"]["remote_id"] == alice.addr
    assert e["where"] == {"connector": "mail", "remote_id": f"dm:{alice.addr}"}
    assert d["target"] == {"connector": "spool", "remote_id": "room"}

    # the MDN Delta Chat sent, as the bridge's mailbox got it (to Rita's puppet)
    [mdn] = mdns_for(stack, bridge.address, mid)
    assert mdn["From"].addresses[0].addr_spec == alice.addr
    assert e["origin"] == {"connector": "mail", "remote_id": str(mdn["Message-ID"]).strip().strip("<>")}
    assert mdn_field(mdn, "Disposition").endswith("displayed")

    out = bridge.outbox_through_marker(lambda text: alice.send_text(alice.chat_with(bridge.address), text))
    assert [payload_kind(d) for _, d in out] == ["read.up_to"]  # exactly once
    assert len(mdns_for(stack, bridge.address, mid)) == 1


# --------------------------------------------------------------------------------------------
# (b) read.up_to from the spool -> Delta Chat's own message reads as read


def test_spool_read_up_to_marks_the_delta_chat_message_read(bridge, make_account, new_user, stack, timings):
    alice = linked_alice(bridge, make_account, new_user)
    tok = token()
    text = f"did you read this? {tok}"
    mine = alice.send_text(alice.chat_with(bridge.address), text)
    [(spool_id, posted_d)] = bridge.wait_outbox(1)
    assert posted_d["event"]["payload"]["body"]["text"] == text
    mid = alice.message_id_header(mine)
    # 2.62.0 asks for a receipt on plain mail; the bridge answers whether asked or not.
    sent = find_raw_mail(stack, bridge.address, message_id=mid)
    assert str(sent["Chat-Disposition-Notification-To"]).strip() == alice.addr

    t0 = time.monotonic()
    bridge.drop("001", spool_event(f"read-{tok}", {"kind": "read.up_to",
                                                  "target": {"connector": "spool", "remote_id": spool_id}}))
    receipts = alice.wait_read(mine)
    timings["spool read.up_to -> Delta Chat read receipt"] = ms(time.monotonic() - t0)

    puppet = bridge.puppet_address("spool", "rita")
    assert {a.lower() for a in receipts} == {puppet}, receipts
    assert alice.get_message(mine).state == STATE_OUT_MDN_RCVD  # what the UI shows as "read"

    # on the wire: one RFC 8098 MDN from Rita's puppet for Alice's Message-ID
    [mdn] = mdns_for(stack, alice.addr, mid)
    assert mdn["From"].addresses[0].addr_spec == puppet
    assert [a.addr_spec for a in mdn["To"].addresses] == [alice.addr]
    assert mdn["Chat-Version"] == "1.0"
    assert mdn["Auto-Submitted"] == "auto-replied"
    assert mdn.msg.get_content_type() == "multipart/report"
    assert mdn.msg.get_param("report-type") == "disposition-notification"
    assert mdn_field(mdn, "Original-Message-ID") == f"<{mid}>"
    assert mdn_field(mdn, "Disposition") == "manual-action/MDN-sent-automatically; displayed"

    marker = bridge.marker_to(alice)
    assert len(mdns_for(stack, alice.addr, mid)) == 1  # exactly once
    assert {a.lower() for a in alice.read_receipts(mine)} == {puppet}
    assert [m.text for m in incoming_with(alice, "")] == [marker.text]  # the MDN is not shown as a message
    # nothing comes back: the bridge's own MDN is not read as Alice's
    out = bridge.outbox_through_marker(lambda text: alice.send_text(alice.chat_with(bridge.address), text))
    assert [payload_kind(d) for _, d in out] == ["message.posted"]


# --------------------------------------------------------------------------------------------
# (c) edit and delete from Delta Chat


def test_delta_chat_edit_becomes_message_edited_with_the_spool_id(bridge, make_account, new_user, stack, timings):
    alice = linked_alice(bridge, make_account, new_user)
    tok = token()
    before, after = f"first wording {tok}", f"second wording ✓ {tok}"
    mine = alice.send_text(alice.chat_with(bridge.address), before)
    [(spool_id, _)] = bridge.wait_outbox(1)

    t0 = time.monotonic()
    alice.edit(mine, after)
    [(_, d)] = bridge.wait_outbox(1, pred=lambda d: payload_kind(d) == "message.edited")
    timings["Delta Chat edit -> spool message.edited"] = ms(time.monotonic() - t0)

    e = d["event"]
    assert e["payload"]["target"] == {"connector": "spool", "remote_id": spool_id}
    assert e["payload"]["body"]["text"] == after  # no quote, no pencil
    assert e["who"] == {"connector": "mail", "remote_id": alice.addr, "display_name": "Alice DC"}
    assert e["where"] == {"connector": "mail", "remote_id": f"dm:{alice.addr}"}
    assert d["target"] == {"connector": "spool", "remote_id": "room"}
    # the origin is the edit request's own Message-ID, in Delta Chat's plain form
    edit_mail = find_raw_mail(stack, bridge.address, header=("Chat-Edit", alice.message_id_header(mine)))
    assert e["origin"] == {"connector": "mail", "remote_id": str(edit_mail["Message-ID"]).strip().strip("<>")}
    assert edit_mail.msg.get_content_type() == "text/plain"

    assert alice.get_message(mine).text == after  # Delta Chat's own view

    out = bridge.outbox_through_marker(lambda text: alice.send_text(alice.chat_with(bridge.address), text))
    assert [payload_kind(d) for _, d in out] == ["message.posted", "message.edited"]


def test_delta_chat_edit_is_not_a_reply_to_the_message_it_edits(bridge, make_account, new_user):
    alice = linked_alice(bridge, make_account, new_user)
    tok = token()
    mine = alice.send_text(alice.chat_with(bridge.address), f"typo hree {tok}")
    bridge.wait_outbox(1)
    alice.edit(mine, f"typo here {tok}")
    [(_, d)] = bridge.wait_outbox(1, pred=lambda d: payload_kind(d) == "message.edited")
    assert d["event"]["payload"]["body"]["text"] == f"typo here {tok}"
    assert d["event"]["payload"]["body"].get("reply_to") is None


def test_delta_chat_refuses_delete_for_everyone_of_plain_mail_and_nothing_reaches_the_spool(
        bridge, make_account, new_user):
    alice = linked_alice(bridge, make_account, new_user)
    tok = token()
    mine = alice.send_text(alice.chat_with(bridge.address), f"regrettable {tok}")
    bridge.wait_outbox(1)
    with pytest.raises(JsonRpcError, match="Cannot request deletion of unencrypted message for others"):
        alice.delete_for_all([mine])
    alice.delete_local([mine])  # all a plain Delta Chat user can do
    alice.wait_until(lambda: not alice.rpc.get_existing_msg_ids(alice.id, [mine]), "local delete")
    out = bridge.outbox_through_marker(lambda text: alice.send_text(alice.chat_with(bridge.address), text))
    assert [payload_kind(d) for _, d in out] == ["message.posted"]


# --------------------------------------------------------------------------------------------
# (d) edit and delete from the spool


def test_spool_edit_changes_the_delta_chat_message(bridge, make_account, new_user, stack, timings):
    alice = linked_alice(bridge, make_account, new_user)
    tok = token()
    before, after = f"see you at 5 {tok}", f"see you at 6 ✓ {tok}"
    bridge.drop("001", spool_event(f"s-{tok}", posted(before)))
    m = alice.wait_for_message(text=before)
    original_mid = alice.message_id_header(m)

    t0 = time.monotonic()
    bridge.drop("002", spool_event(f"e-{tok}", {"kind": "message.edited",
                                               "target": {"connector": "spool", "remote_id": f"s-{tok}"},
                                               "body": {"text": after}}))
    edited = alice.wait_for_text(m, after)
    timings["spool message.edited -> Delta Chat text changed"] = ms(time.monotonic() - t0)
    assert edited.is_edited
    assert edited.chat_id == m.chat_id
    assert edited.sender_addr == m.sender_addr == bridge.puppet_address("spool", "rita")

    # on the wire: from the same puppet, Chat-Edit on top and in the first part of a
    # multipart/mixed (where 2.62.0 reads it on plain mail), plus COI's editrequest
    raw = find_raw_mail(stack, alice.addr, header=("Chat-Edit", original_mid))
    assert raw["From"].addresses[0].addr_spec == m.sender_addr
    assert raw.msg.get_content_type() == "multipart/mixed"
    assert str(first_part_header(raw, "Chat-Edit")).strip() == f"<{original_mid}>"
    assert raw["Chat-Content"] == "editrequest"
    assert str(raw["In-Reply-To"]).strip() == f"<{original_mid}>"

    bridge.marker_to(alice)
    # exactly once: the message changed in place, the request is no message of its own
    assert [(x.id, x.text) for x in incoming_with(alice, tok)] == [(m.id, after)]
    assert len([r for r in maildir_messages(stack, alice.addr) if r.get("Chat-Edit")]) == 1


def test_spool_delete_reaches_delta_chat_which_keeps_plain_messages(bridge, make_account, new_user, stack):
    """The bridge sends the delete request in every form Delta Chat and COI know; Delta Chat
    2.62.0 ignores it because the mail is not encrypted. If this starts failing because the
    message is gone, deletes cross plain mail now: assert the removal instead."""
    alice = linked_alice(bridge, make_account, new_user)
    tok = token()
    text = f"wrong chat, sorry {tok}"
    bridge.drop("001", spool_event(f"s-{tok}", posted(text)))
    m = alice.wait_for_message(text=text)
    original_mid = alice.message_id_header(m)
    since = alice.mark()

    bridge.drop("002", spool_event(f"d-{tok}", {"kind": "message.deleted",
                                               "target": {"connector": "spool", "remote_id": f"s-{tok}"}}))
    raw = find_raw_mail(stack, alice.addr, header=("Chat-Delete", original_mid), timeout=30)
    assert raw["From"].addresses[0].addr_spec == m.sender_addr
    assert raw.msg.get_content_type() == "multipart/mixed"
    assert str(first_part_header(raw, "Chat-Delete")).strip() == f"<{original_mid}>"
    assert raw["Chat-Content"] == "deleterequest"
    assert str(raw["In-Reply-To"]).strip() == f"<{original_mid}>"

    # Delta Chat fetched it and said why it does nothing
    alice.wait_event(lambda e: e.get("kind") == "Warning" and "Delete message: Not encrypted" in e.get("msg", ""),
                     since=since)
    bridge.marker_to(alice)
    assert alice.rpc.get_existing_msg_ids(alice.id, [m.id]) == [m.id]
    assert alice.get_message(m.id).text == text
    assert [x.id for x in incoming_with(alice, tok)] == [m.id]
    assert [x.text for x in incoming_with(alice, "\U0001F6AE")] == []  # the request is not shown
