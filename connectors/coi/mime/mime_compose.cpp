#include "connectors/coi/mime/mime_compose.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/coi/mime/flowed.hpp"
#include "connectors/coi/mime/gmime_init.hpp"
#include "connectors/coi/mime/gmime_ptr.hpp"
#include "connectors/coi/mime/simplify.hpp"
#include "connectors/coi/mime/text_util.hpp"

namespace coibridge::connectors::coi::mime {
namespace {

using detail::GCharPtr;
using detail::GObjectPtr;

constexpr std::size_t kMaxLineOctets = 998;                 // RFC 5322 §2.1.1
constexpr std::string_view kEditedPrefix = "\u270F\uFE0F";  // Delta Chat EDITED_PREFIX
constexpr std::string_view kDeletedText = "\U0001F6AE";     // Delta Chat's delete body 🚮
constexpr const char* kReportingUa = "coi-bridge";

core::Error invalid(std::string field, std::string message) {
  return core::Error::invalid(std::move(field), std::move(message));
}

bool is_ascii_printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7F;
  });
}

// addr-spec (RFC 5322 §3.4.1) as SMTP without SMTPUTF8 carries it: printable ASCII, one
// '@' with text on both sides, nothing that would end the header or the angle brackets.
core::Status check_address(const Mailbox& box, const std::string& field) {
  const auto& a = box.address;
  const auto at = a.find('@');
  if (a.empty() || !is_ascii_printable(a) || at == 0 || at == std::string::npos ||
      at + 1 == a.size() || a.find('@', at + 1) != std::string::npos ||
      a.find_first_of("<>,;\"()[]\\") != std::string::npos) {
    return invalid(field, "not a usable mail address: '" + a + "'");
  }
  return {};
}

// msg-id without the brackets (RFC 5322 §3.6.4): id-left "@" id-right in printable ASCII.
core::Status check_message_id(std::string_view id, const std::string& field) {
  const auto at = id.find('@');
  if (id.empty() || !is_ascii_printable(id) || at == 0 || at == std::string_view::npos ||
      at + 1 == id.size() || id.find_first_of("<>") != std::string_view::npos) {
    return invalid(field, "not a Message-ID: '" + std::string(id) + "'");
  }
  return {};
}

// Header text as one line of valid UTF-8: CR, LF and other controls would end the header
// or inject new ones, so they become spaces.
std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7F ? ' ' : c);
  }
  if (!g_utf8_validate(out.data(), static_cast<gssize>(out.size()), nullptr)) {
    GCharPtr fixed(g_utf8_make_valid(out.data(), static_cast<gssize>(out.size())));
    out = fixed ? fixed.get() : "";
  }
  return std::string(detail::trim(out));
}

// Body text: LF line ends, valid UTF-8, no NUL.
std::string normalize_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else if (s[i] != '\0') {
      out.push_back(s[i]);
    }
  }
  if (!g_utf8_validate(out.data(), static_cast<gssize>(out.size()), nullptr)) {
    GCharPtr fixed(g_utf8_make_valid(out.data(), static_cast<gssize>(out.size())));
    out = fixed ? fixed.get() : "";
  }
  return out;
}

std::string angle_list(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    if (!out.empty()) out.push_back(' ');
    out.append("<").append(id).append(">");
  }
  return out;
}

void set_header(GMimeObject* object, const char* name, const std::string& value) {
  // GMime's default formatter RFC 2047-encodes non-ASCII words and folds at white space.
  g_mime_object_set_header(object, name, value.c_str(), "utf-8");
}

// The text of the message as Delta Chat lays it out (src/mimefactory.rs): the quote as a
// "> " block and an empty line, or a lone empty line when the text itself starts with '>'
// so that receivers do not take it for a quote; user lines starting with "-- " escaped.
std::string chat_body(const std::optional<std::string>& quote, const std::string& text) {
  std::string body;
  if (quote && !quote->empty()) {
    const std::string q = normalize_text(*quote);
    std::size_t start = 0;
    for (;;) {
      const auto nl = q.find('\n', start);
      body.append("> ").append(q.substr(start, nl == std::string::npos ? nl : nl - start));
      body.push_back('\n');
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    body.push_back('\n');
  } else if (text.starts_with('>')) {
    body.push_back('\n');
  }
  body.append(escape_footer_marks(text));
  return body;
}

GObjectPtr<GMimeDataWrapper> wrap_bytes(std::string_view bytes) {
  GObjectPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size()));
  return GObjectPtr<GMimeDataWrapper>(
      g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
}

// text/plain; charset=utf-8, format=flowed when that is lossless (no line ends in white
// space, RFC 3676 §4.2), 7bit when the result is short-lined ASCII, else quoted-printable,
// which also keeps trailing spaces and long lines intact (RFC 2045 §6.7).
GObjectPtr<GMimePart> text_part(const std::string& body) {
  const bool flowed = can_format_flowed(body);
  const std::string content = flowed ? format_flowed(body) : body;
  bool seven_bit = flowed;
  std::size_t line = 0;
  for (char c : content) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      line = 0;
      continue;
    }
    if (u >= 0x80 || (u < 0x20 && c != '\t') || u == 0x7F || ++line > kMaxLineOctets) {
      seven_bit = false;
      break;
    }
  }
  GObjectPtr<GMimePart> part(g_mime_part_new_with_type("text", "plain"));
  auto* object = GMIME_OBJECT(part.get());
  g_mime_object_set_content_type_parameter(object, "charset", "utf-8");
  if (flowed) g_mime_object_set_content_type_parameter(object, "format", "flowed");
  auto wrapper = wrap_bytes(content);
  g_mime_part_set_content(part.get(), wrapper.get());
  g_mime_part_set_content_encoding(
      part.get(), seven_bit ? GMIME_CONTENT_ENCODING_7BIT : GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  return part;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("!#$&-^_.+").find(c) != std::string_view::npos;
  });
}

GObjectPtr<GMimePart> attachment_part(const MailAttachment& file) {
  // RFC 2045 §5.1 type/subtype tokens; anything else is sent as opaque bytes.
  std::string type = "application";
  std::string subtype = "octet-stream";
  const auto content_type = detail::lower_ascii(detail::trim(file.content_type));
  const auto slash = content_type.find('/');
  if (slash != std::string::npos && is_token(content_type.substr(0, slash)) &&
      is_token(content_type.substr(slash + 1)) && !content_type.starts_with("multipart/") &&
      !content_type.starts_with("message/")) {
    type = content_type.substr(0, slash);
    subtype = content_type.substr(slash + 1);
  }
  GObjectPtr<GMimePart> part(g_mime_part_new_with_type(type.c_str(), subtype.c_str()));
  auto wrapper = wrap_bytes(file.data);
  g_mime_part_set_content(part.get(), wrapper.get());
  g_mime_part_set_content_encoding(part.get(), GMIME_CONTENT_ENCODING_BASE64);
  std::string name = one_line(file.filename);
  if (const auto cut = name.find_last_of("/\\"); cut != std::string::npos) name.erase(0, cut + 1);
  if (name.empty()) name = "attachment";
  g_mime_object_set_disposition(GMIME_OBJECT(part.get()), "attachment");
  // Sets Content-Disposition filename and Content-Type name; the format options below
  // make GMime write non-ASCII names as RFC 2231 filename*=utf-8''...
  g_mime_part_set_filename(part.get(), name.c_str());
  for (GMimeParamList* params :
       {g_mime_content_disposition_get_parameters(
            g_mime_object_get_content_disposition(GMIME_OBJECT(part.get()))),
        g_mime_content_type_get_parameters(
            g_mime_object_get_content_type(GMIME_OBJECT(part.get())))}) {
    for (const char* key : {"filename", "name"}) {
      if (GMimeParam* param = g_mime_param_list_get_parameter(params, key)) {
        g_mime_param_set_charset(param, "utf-8");
      }
    }
  }
  return part;
}

// RFC 8098 §3: a multipart/report with a human part and the machine-readable
// message/disposition-notification; the original is not attached (coi-client-spec §"Read
// Receipts"). Delta Chat's wording and fields (src/mimefactory.rs render_mdn).
GObjectPtr<GMimeObject> mdn_body(const OutgoingMail& mail, const std::string& original) {
  GObjectPtr<GMimeMultipart> report(g_mime_multipart_new_with_subtype("report"));
  g_mime_object_set_content_type_parameter(GMIME_OBJECT(report.get()), "report-type",
                                           "disposition-notification");
  auto human = text_part("This is a receipt notification.");
  g_mime_multipart_add(report.get(), GMIME_OBJECT(human.get()));

  std::string fields;
  fields.append("Reporting-UA: ").append(kReportingUa).append("\n");
  fields.append("Original-Recipient: rfc822;").append(mail.from.address).append("\n");
  fields.append("Final-Recipient: rfc822;").append(mail.from.address).append("\n");
  fields.append("Original-Message-ID: <").append(original).append(">\n");
  fields.append("Disposition: manual-action/MDN-sent-automatically; displayed\n");
  if (!mail.additional_targets.empty()) {
    // Delta Chat's extension field; folded like a header (RFC 5322 §2.2.3).
    std::string line = "Additional-Message-IDs:";
    for (const auto& id : mail.additional_targets) {
      const std::string item = "<" + id + ">";
      if (line.size() + 1 + item.size() > 76) {
        fields.append(line).append("\n");
        line.clear();
      }
      line.append(" ").append(item);
    }
    fields.append(line).append("\n");
  }
  GObjectPtr<GMimePart> machine(g_mime_part_new_with_type("message", "disposition-notification"));
  auto wrapper = wrap_bytes(fields);
  g_mime_part_set_content(machine.get(), wrapper.get());
  g_mime_part_set_content_encoding(machine.get(), GMIME_CONTENT_ENCODING_7BIT);
  g_mime_multipart_add(report.get(), GMIME_OBJECT(machine.get()));
  return GObjectPtr<GMimeObject>(GMIME_OBJECT(report.release()));
}

// Autocrypt Level 1 §2.1: keydata may be folded with white space, which receivers remove.
// Breaking it every 76 characters lets GMime fold the header within 998 octets.
std::string fold_autocrypt(std::string_view value) {
  const auto key = value.find("keydata=");
  if (key == std::string_view::npos) return std::string(value);
  std::string out(value.substr(0, key + 8));
  std::size_t run = 0;
  for (char c : value.substr(key + 8)) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) continue;
    if (run == 76) {
      out.push_back(' ');
      run = 0;
    }
    out.push_back(c);
    ++run;
  }
  return out;
}

core::Status validate(const OutgoingMail& mail) {
  if (auto st = check_address(mail.from, "from"); !st) return st;
  if (mail.sender) {
    if (auto st = check_address(*mail.sender, "sender"); !st) return st;
  }
  if (mail.to.empty() && mail.cc.empty()) return invalid("to", "no recipient");
  for (const auto& box : mail.to) {
    if (auto st = check_address(box, "to"); !st) return st;
  }
  for (const auto& box : mail.cc) {
    if (auto st = check_address(box, "cc"); !st) return st;
  }
  if (auto st = check_message_id(mail.message_id, "message_id"); !st) return st;
  if (mail.date_unix <= 0) return invalid("date_unix", "no date");
  for (const auto& id : mail.in_reply_to) {
    if (auto st = check_message_id(id, "in_reply_to"); !st) return st;
  }
  for (const auto& id : mail.references) {
    if (auto st = check_message_id(id, "references"); !st) return st;
  }
  for (const auto& id : mail.additional_targets) {
    if (auto st = check_message_id(id, "additional_targets"); !st) return st;
  }
  if (mail.target_message_id) {
    if (auto st = check_message_id(*mail.target_message_id, "target_message_id"); !st) return st;
  }
  if (mail.read_receipt_for) {
    if (auto st = check_message_id(*mail.read_receipt_for, "read_receipt_for"); !st) return st;
  }
  if (mail.group_id && !detail::valid_group_id(*mail.group_id)) {
    return invalid("group_id", "a group id is 8 to 64 characters of [A-Za-z0-9_-]");
  }
  if (mail.member_added) {
    if (auto st = check_address(*mail.member_added, "member_added"); !st) return st;
  }
  if (mail.member_removed) {
    if (auto st = check_address(*mail.member_removed, "member_removed"); !st) return st;
  }
  const bool mdn = mail.kind == ChatKind::kReadReceipt || mail.read_receipt_for.has_value();
  switch (mail.kind) {
    case ChatKind::kNotChat:
    case ChatKind::kProtocolNoise:
      if (!mdn) return invalid("kind", std::string("cannot compose a ") + to_string(mail.kind));
      break;
    case ChatKind::kEdit:
    case ChatKind::kDelete:
    case ChatKind::kReaction:
      if (!mail.target_message_id) {
        return invalid("target_message_id",
                       std::string(to_string(mail.kind)) + " without a target");
      }
      break;
    case ChatKind::kReadReceipt:
      if (!mail.read_receipt_for && !mail.target_message_id) {
        return invalid("read_receipt_for", "read receipt without the original Message-ID");
      }
      break;
    case ChatKind::kMemberAdded:
      if (!mail.member_added) return invalid("member_added", "no member");
      break;
    case ChatKind::kMemberRemoved:
      if (!mail.member_removed) return invalid("member_removed", "no member");
      break;
    case ChatKind::kGroupRenamed:
      if (!mail.group_name || !mail.previous_group_name) {
        return invalid("group_name", "a rename needs group_name and previous_group_name");
      }
      break;
    case ChatKind::kMessage:
      break;
  }
  return {};
}

void add_mailbox(GMimeMessage* message, GMimeAddressType type, const Mailbox& box) {
  const std::string name = one_line(box.name);
  GObjectPtr<InternetAddress> address(
      internet_address_mailbox_new(name.empty() ? nullptr : name.c_str(), box.address.c_str()));
  // GMime would pick the smallest charset (often ISO-8859-1); UTF-8 is what chat clients
  // write and every reader understands.
  internet_address_set_charset(address.get(), "utf-8");
  internet_address_list_add(g_mime_message_get_addresses(message, type), address.get());
}

}  // namespace

core::Result<std::string> compose_mail(const OutgoingMail& mail) {
  if (auto st = validate(mail); !st) return st.error();
  ensure_gmime_initialized();

  const bool mdn = mail.kind == ChatKind::kReadReceipt || mail.read_receipt_for.has_value();
  const ChatKind kind = mdn ? ChatKind::kReadReceipt : mail.kind;

  GObjectPtr<GMimeMessage> message(g_mime_message_new(TRUE));
  GMimeMessage* msg = message.get();
  auto* top = GMIME_OBJECT(msg);

  // --- RFC 5322 fields
  add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, mail.from);
  if (mail.sender) add_mailbox(msg, GMIME_ADDRESS_TYPE_SENDER, *mail.sender);
  for (const auto& box : mail.to) add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, box);
  for (const auto& box : mail.cc) add_mailbox(msg, GMIME_ADDRESS_TYPE_CC, box);

  std::string subject = one_line(mail.subject);
  if (subject.empty()) {
    // Delta Chat's subjects (src/mimefactory.rs subject_str()); for COI the group name is
    // the Subject (coi-client-spec §"Sending a Chat Message to a Group").
    if (kind == ChatKind::kReadReceipt) {
      subject = "Receipt Notification";
    } else if (mail.group_name && !one_line(*mail.group_name).empty()) {
      subject = one_line(*mail.group_name);
    } else {
      const std::string name = one_line(mail.from.name);
      subject = "Message from " + (name.empty() ? mail.from.address : name);
    }
  }
  g_mime_message_set_subject(msg, subject.c_str(), "utf-8");
  detail::DateTimePtr date(g_date_time_new_from_unix_utc(mail.date_unix));
  if (!date) return invalid("date_unix", "date out of range");
  g_mime_message_set_date(msg, date.get());
  g_mime_message_set_message_id(msg, mail.message_id.c_str());

  // Edits, deletes and reactions answer their target (RFC 9078 §2; coi-client-spec §"Edit
  // and Delete Messages"); References falls back to In-Reply-To (RFC 5322 §3.6.4).
  std::vector<std::string> in_reply_to = mail.in_reply_to;
  if (in_reply_to.empty() && mail.target_message_id &&
      (kind == ChatKind::kEdit || kind == ChatKind::kDelete || kind == ChatKind::kReaction)) {
    in_reply_to = {*mail.target_message_id};
  }
  std::vector<std::string> references = mail.references.empty() ? in_reply_to : mail.references;
  if (!in_reply_to.empty()) set_header(top, "In-Reply-To", angle_list(in_reply_to));
  if (!references.empty()) set_header(top, "References", angle_list(references));

  // --- chat fields
  set_header(top, "Chat-Version", "1.0");
  if (kind != ChatKind::kReadReceipt) {
    if (mail.group_id) set_header(top, "Chat-Group-ID", *mail.group_id);
    if (mail.group_name) set_header(top, "Chat-Group-Name", one_line(*mail.group_name));
  }
  std::string text = normalize_text(mail.text);
  std::string delete_ids;
  switch (kind) {
    case ChatKind::kMemberAdded:
      set_header(top, "Chat-Group-Member-Added", mail.member_added->address);
      if (text.empty()) text = "Member " + mail.member_added->address + " was added.";
      break;
    case ChatKind::kMemberRemoved:
      set_header(top, "Chat-Group-Member-Removed", mail.member_removed->address);
      if (text.empty()) text = "Member " + mail.member_removed->address + " was removed.";
      break;
    case ChatKind::kGroupRenamed:
      set_header(top, "Chat-Group-Name-Changed", one_line(*mail.previous_group_name));
      // The last-writer-wins clock of the name (Delta Chat src/mimefactory.rs).
      set_header(top, "Chat-Group-Name-Timestamp", std::to_string(mail.date_unix));
      if (text.empty()) {
        text = "Group name changed from \"" + one_line(*mail.previous_group_name) + "\" to \"" +
               one_line(*mail.group_name) + "\".";
      }
      break;
    case ChatKind::kEdit:
      set_header(top, "Chat-Edit", "<" + *mail.target_message_id + ">");
      set_header(top, "Chat-Content", "editrequest");
      // The pencil only shows plain mail readers what happened; Delta Chat strips it.
      text = std::string(kEditedPrefix) + text;
      break;
    case ChatKind::kDelete: {
      std::vector<std::string> ids{*mail.target_message_id};
      ids.insert(ids.end(), mail.additional_targets.begin(), mail.additional_targets.end());
      delete_ids = angle_list(ids);
      set_header(top, "Chat-Delete", delete_ids);
      set_header(top, "Chat-Content", "deleterequest");
      if (text.empty()) text = kDeletedText;  // Delta Chat wants a non-empty body
      break;
    }
    case ChatKind::kReadReceipt:
      set_header(top, "Auto-Submitted", "auto-replied");  // RFC 3834 §5; RFC 8098 §5
      break;
    default:
      break;
  }
  if (mail.request_read_receipt && kind == ChatKind::kMessage) {
    // Delta Chat reads the first, COI clients and RFC 8098 the second; both name From.
    set_header(top, "Chat-Disposition-Notification-To", mail.from.address);
    set_header(top, "Disposition-Notification-To", mail.from.address);
  }
  if (mail.auto_submitted && kind != ChatKind::kReadReceipt) {
    set_header(top, "Auto-Submitted", "auto-generated");
  }
  if (mail.autocrypt_header) {
    set_header(top, "Autocrypt", fold_autocrypt(one_line(*mail.autocrypt_header)));
  }

  // --- body
  GObjectPtr<GMimeObject> body;
  if (kind == ChatKind::kReadReceipt) {
    body = mdn_body(mail, mail.read_receipt_for.value_or(mail.target_message_id.value_or("")));
  } else if (kind == ChatKind::kReaction) {
    // RFC 9078 §2: the reaction is the text/plain part itself, marked by its disposition.
    auto part = text_part(one_line(mail.reaction));
    g_mime_object_set_disposition(GMIME_OBJECT(part.get()), "reaction");
    body.reset(GMIME_OBJECT(part.release()));
  } else {
    auto first = text_part(chat_body(mail.quote, text));
    const bool hidden_headers = kind == ChatKind::kEdit || kind == ChatKind::kDelete;
    if (mail.attachments.empty() && !hidden_headers) {
      body.reset(GMIME_OBJECT(first.release()));
    } else {
      // Delta Chat reads Chat-Edit/Chat-Delete of unencrypted mail only from the first part
      // of a multipart/mixed (src/mimeparser.rs, legacy hidden headers), so they are
      // written there too. Attachments follow the text (coi-protocol.md §4.3).
      if (kind == ChatKind::kEdit) {
        set_header(GMIME_OBJECT(first.get()), "Chat-Edit", "<" + *mail.target_message_id + ">");
      } else if (kind == ChatKind::kDelete) {
        set_header(GMIME_OBJECT(first.get()), "Chat-Delete", delete_ids);
      }
      GObjectPtr<GMimeMultipart> mixed(g_mime_multipart_new_with_subtype("mixed"));
      g_mime_multipart_add(mixed.get(), GMIME_OBJECT(first.get()));
      for (const auto& file : mail.attachments) {
        auto part = attachment_part(file);
        g_mime_multipart_add(mixed.get(), GMIME_OBJECT(part.get()));
      }
      body.reset(GMIME_OBJECT(mixed.release()));
    }
  }
  g_mime_message_set_mime_part(msg, body.get());

  detail::FormatOptionsPtr format(g_mime_format_options_new());
  g_mime_format_options_set_newline_format(format.get(), GMIME_NEWLINE_FORMAT_DOS);
  g_mime_format_options_set_param_encoding_method(format.get(),
                                                  GMIME_PARAM_ENCODING_METHOD_RFC2231);
  GCharPtr written(g_mime_object_to_string(top, format.get()));
  if (!written) return core::Error::internal("GMime wrote nothing");
  std::string out(written.get());

  // RFC 5322 §2.1.1; only a header with an unbreakable word this long can exceed it.
  std::size_t line = 0;
  for (char c : out) {
    line = c == '\n' ? 0 : line + 1;
    if (line > kMaxLineOctets + 1) {
      return invalid("subject", "a header has a word longer than 998 characters");
    }
  }
  return out;
}

}  // namespace coibridge::connectors::coi::mime
