"""Smoke test: Delta Chat core as a real peer on the local mail stack.

Proves the pieces the bridge's e2e tests stand on: two Delta Chat accounts talk (text, quoted
reply, image, reaction), and mail written by a script, the way the bridge will write it, shows
up in Delta Chat as chat messages with the right text, sender, quote and per-message name,
and its reactions and read receipts are applied.
"""

from __future__ import annotations

import struct
import time
import uuid
import zlib

from dcpeer import (
    build_chat_email,
    build_mdn_email,
    build_reaction_email,
    find_raw_mail,
    send_raw_email,
)


def make_png(width: int = 64, height: int = 48) -> bytes:
    """A small RGB PNG with a pattern (no EXIF, so Delta Chat sends it unchanged)."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in ((x * 4 + y) % 256, (x * y) % 256, (y * 5) % 256))
        for y in range(height)
    )

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def token() -> str:
    return uuid.uuid4().hex[:8]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def test_delta_chat_to_delta_chat(make_account, stack, timings, tmp_path):
    alice = make_account("alice@example.org", "alicepw", "Alice DC")
    bob = make_account("bob@example.org", "bobpw", "Bob DC")
    timings["configure (add_or_update_transport, plain)"] = ms(alice.configure_seconds)
    timings["configure + start_io until IMAP IDLE"] = ms(alice.ready_seconds)

    # alice -> bob: text with a non-ASCII character
    chat = alice.chat_with("bob@example.org")
    t0 = time.monotonic()
    hello_id = alice.send_text(chat, "hello ✓")
    hello = bob.wait_for_message(text="hello ✓")
    one_way = time.monotonic() - t0
    assert hello.text == "hello ✓"
    assert hello.sender_addr == "alice@example.org"
    assert hello.sender_name == "Alice DC"
    assert hello.override_sender_name is None
    assert not hello.padlock  # force_encryption=0: plain mail
    info = bob.chat_info(hello.chat_id)
    assert info["chatType"] == "Single" and info["isContactRequest"]

    # bob accepts and replies quoting it; alice sees the quote
    bob.accept_chat(hello.chat_id)
    t1 = time.monotonic()
    reply_id = bob.reply(hello, "got it, Alice")
    reply = alice.wait_for_message(text="got it, Alice")
    timings["message one way (send_msg -> IncomingMsg)"] = ms(one_way)
    timings["reply one way"] = ms(time.monotonic() - t1)
    timings["round trip (hello -> quoted reply seen)"] = ms(time.monotonic() - t0)
    assert reply.chat_id == chat
    assert reply.sender_addr == "bob@example.org" and reply.sender_name == "Bob DC"
    assert reply.quote_text == "hello ✓"
    assert reply.quote_msg_id == hello_id

    # the wire format: a plain Delta Chat message with threading headers
    raw = find_raw_mail(stack, "alice", message_id=bob.message_id_header(reply_id))
    assert raw["Chat-Version"] == "1.0"
    assert raw["In-Reply-To"].strip() == f"<{alice.message_id_header(hello_id)}>"
    assert raw.body_text().startswith("> hello ✓")

    # alice sends an image; bob gets the same bytes
    png = make_png()
    path = tmp_path / "pixels.png"
    path.write_bytes(png)
    alice.send_file(chat, path, "a picture", viewtype="Image")
    pic = bob.wait_for_message(text="a picture")
    assert pic.view_type == "Image"
    assert pic.file_mime == "image/png"
    assert pic.file_bytes() == png

    # alice reacts to bob's reply; bob sees it
    reaction_id = alice.react(reply, "👍")
    assert bob.wait_for_reaction(reply_id, "👍", sender="alice") == {"alice@example.org": "👍"}
    raw = find_raw_mail(stack, "bob", message_id=alice.message_id_header(reaction_id))
    assert raw["Content-Disposition"] == "reaction"
    assert raw["In-Reply-To"].strip() == f"<{bob.message_id_header(reply_id)}>"


def test_plain_email_from_script_is_a_chat_message(make_account, stack, timings):
    """The bridge's path: a script hands Delta Chat a plain email with the minimal header set."""
    alice = make_account("alice@example.org", "alicepw", "Alice DC")
    text = f"plain mail ✓ {token()}"
    msg = build_chat_email("carol@example.org", "alice@example.org", text, from_name="Carol Script")
    assert sorted(msg.keys()) == sorted([
        "From", "To", "Date", "Message-ID", "Chat-Version",
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
    ])
    t0 = time.monotonic()
    send_raw_email(stack, msg)
    got = alice.wait_for_message(text=text)
    timings["plain email, SMTP -> Delta Chat IncomingMsg"] = ms(time.monotonic() - t0)
    assert got.text == text  # body only: no "Subject – " prefix, no mojibake
    assert got.sender_addr == "carol@example.org"
    assert got.sender_name == "Carol Script"
    assert alice.message_id_header(got) == msg["Message-ID"].strip("<>")
    info = alice.chat_info(got.chat_id)
    assert info["chatType"] == "Single" and info["isContactRequest"]
    assert info["name"] == "Carol Script"


def test_bridge_style_reply_name_reaction_receipt(make_account, stack):
    """What the bridge will do on behalf of a remote user: reply with a quote under a
    per-message display name, react, and send a read receipt. dave@ plays the bridge's
    address (the bridge@ mailbox is left to the bridge's own e2e tests)."""
    alice = make_account("alice@example.org", "alicepw", "Alice DC")
    tok = token()
    question = f"question {tok}?"
    q_id = alice.send_text(alice.chat_with("dave@example.org"), question)
    q_raw = find_raw_mail(stack, "dave", contains=question)
    q_mid = q_raw["Message-ID"].strip()
    assert q_mid == f"<{alice.message_id_header(q_id)}>"

    # a reply quoting it, shown under the remote user's name (From name + Sender header)
    answer = f"answer {tok}"
    msg = build_chat_email("dave@example.org", "alice@example.org", f"> {question}\n\n{answer}",
                           from_name="Remote Rita", sender="dave@example.org", in_reply_to=q_mid)
    send_raw_email(stack, msg)
    got = alice.wait_for_message(text=answer)
    assert got.sender_addr == "dave@example.org"
    assert got.override_sender_name == "Remote Rita"
    assert got.shown_name == "Remote Rita"
    assert got.quote_text == question
    assert got.quote_msg_id == q_id
    assert got.chat_id == alice.chat_with("dave@example.org")

    # a reaction to alice's message
    send_raw_email(stack, build_reaction_email("dave@example.org", "alice@example.org", q_mid, "🎉"))
    assert alice.wait_for_reaction(q_id, "🎉", sender="dave") == {"dave@example.org": "🎉"}

    # a read receipt for alice's message
    send_raw_email(stack, build_mdn_email("dave@example.org", "alice@example.org", q_mid),
                   mail_from="dave@example.org", rcpt_to=["alice@example.org"])
    assert "dave@example.org" in alice.wait_read(q_id, by="dave")


def test_tls_logins(make_account, timings):
    """STARTTLS (IMAP + submission) and implicit TLS (IMAPS + submissions) with the stack's
    self-signed certificate: works with certificateChecks=acceptInvalidCertificates only."""
    carol = make_account("carol@example.org", "carolpw", "Carol DC", security="starttls")
    dave = make_account("dave@example.org", "davepw", "Dave DC", security="ssl")
    timings["configure (STARTTLS)"] = ms(carol.configure_seconds)
    timings["configure (implicit TLS)"] = ms(dave.configure_seconds)
    text = f"over TLS ✓ {token()}"
    carol.send_text(carol.chat_with("dave@example.org"), text)
    got = dave.wait_for_message(text=text)
    assert got.sender_addr == "carol@example.org" and got.sender_name == "Carol DC"


def test_group(make_account, stack):
    """An unencrypted (ad-hoc) group: members, name, and what it looks like on the wire."""
    alice = make_account("alice@example.org", "alicepw", "Alice DC")
    bob = make_account("bob@example.org", "bobpw", "Bob DC")
    name = f"Team {token()}"
    group = alice.create_group(name, ["bob@example.org", "carol@example.org"])
    alice.send_text(group, f"hello {name}")
    got = bob.wait_for_message(text=f"hello {name}")
    info = bob.chat_info(got.chat_id)
    assert info["chatType"] == "Group" and info["name"] == name
    assert sorted(bob.chat_members(got.chat_id)) == [
        "alice@example.org", "bob@example.org", "carol@example.org"]
    raw = find_raw_mail(stack, "carol", contains=f"hello {name}")
    assert raw["Chat-Group-Name"] == name
    assert raw.get("Chat-Group-ID") is None  # only encrypted groups have an id
