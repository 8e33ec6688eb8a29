#include "connectors/coi/imap/imap_quote.hpp"

#include <algorithm>
#include <optional>

#include "connectors/coi/imap/imap_chars.hpp"
#include "core/text/utf8.hpp"

namespace coibridge::connectors::coi::imap {

namespace {

// ATOM-CHAR (RFC 3501 §9): CHAR except atom-specials "(" ")" "{" SP CTL "%" "*" DQUOTE "\"
// and "]". "]" is legal in an astring and "[" in an atom, but quoting them costs nothing
// and spares parsers that read "[...]" as a fetch section (ours does).
bool is_atom_char(char c) { return !is_atom_special(c) && c != '['; }

bool is_quotable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x01 && u <= 0x7f && c != '\r' && c != '\n';
  });
}

bool has_forbidden(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

constexpr std::string_view kBase64Imap =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int imap_b64_value(char c) {
  const std::size_t i = kBase64Imap.find(c);
  return i == std::string_view::npos ? -1 : static_cast<int>(i);
}

}  // namespace

StringForm string_form(std::string_view s) {
  // An atom "NIL" (in any case) would read as NIL, not as a string.
  const bool nil = s.size() == 3 && (s[0] == 'N' || s[0] == 'n') && (s[1] == 'I' || s[1] == 'i') &&
                   (s[2] == 'L' || s[2] == 'l');
  if (!s.empty() && !nil && std::all_of(s.begin(), s.end(), is_atom_char)) return StringForm::kAtom;
  return is_quotable(s) ? StringForm::kQuoted : StringForm::kLiteral;
}

std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

void CommandBuilder::add(bool literal, std::string text) {
  args_.push_back({literal, std::move(text), !list_opened_});
  list_opened_ = false;
}

CommandBuilder& CommandBuilder::raw(std::string_view text) {
  if (has_forbidden(text)) error_ = "command text with CR, LF or NUL";
  add(false, std::string(text));
  return *this;
}

CommandBuilder& CommandBuilder::open_list() {
  add(false, "(");
  list_opened_ = true;
  return *this;
}

CommandBuilder& CommandBuilder::close_list() {
  args_.push_back({false, ")", false});
  list_opened_ = false;
  return *this;
}

CommandBuilder& CommandBuilder::string(std::string_view s) {
  switch (string_form(s)) {
    case StringForm::kAtom:
      add(false, std::string(s));
      break;
    case StringForm::kQuoted:
      add(false, quote(s));
      break;
    case StringForm::kLiteral:
      // RFC 3501 §4.3: a literal is CHAR8 (no NUL); literal8 would need BINARY (RFC 3516).
      if (s.find('\0') != std::string_view::npos) error_ = "argument with a NUL byte";
      add(true, std::string(s));
      break;
  }
  return *this;
}

CommandBuilder& CommandBuilder::quoted_or_literal(std::string_view s) {
  if (string_form(s) == StringForm::kAtom) {
    add(false, quote(s));
    return *this;
  }
  return string(s);
}

CommandBuilder& CommandBuilder::mailbox(std::string_view utf8_name) {
  auto encoded = encode_mailbox_utf7(utf8_name);
  if (!encoded.ok()) {
    error_ = encoded.error().message;
    return *this;
  }
  return string(*encoded);
}

CommandBuilder& CommandBuilder::secret() {
  secret_ = true;
  return *this;
}

core::Result<EncodedCommand> CommandBuilder::build(std::string_view tag, LiteralMode mode) const {
  if (error_) return core::Error::invalid("imap", *error_);
  EncodedCommand cmd;
  cmd.secret = secret_;
  std::string cur;
  cur.append(tag).append(" ").append(verb_);
  for (const auto& a : args_) {
    if (a.space_before) cur += ' ';
    if (!a.literal) {
      cur += a.text;
      continue;
    }
    const bool non_sync =
        mode == LiteralMode::kPlus || (mode == LiteralMode::kMinus && a.text.size() <= 4096);
    cur += '{';
    cur += std::to_string(a.text.size());
    if (non_sync) cur += '+';
    cur += "}\r\n";
    if (!non_sync) cmd.parts.push_back(std::move(cur));
    if (!non_sync) cur.clear();
    cur += a.text;
  }
  cur += "\r\n";
  cmd.parts.push_back(std::move(cur));
  return cmd;
}

core::Result<std::string> encode_mailbox_utf7(std::string_view utf8) {
  auto cps = core::decode_utf8(utf8);
  if (!cps) return core::Error::invalid("mailbox", "mailbox name is not valid UTF-8");
  std::string out;
  std::size_t i = 0;
  while (i < cps->size()) {
    const char32_t cp = (*cps)[i];
    if (cp >= 0x20 && cp <= 0x7e) {
      out += static_cast<char>(cp);
      if (cp == '&') out += '-';
      ++i;
      continue;
    }
    // A run of characters outside printable ASCII: UTF-16BE, then modified base64.
    std::string utf16;
    while (i < cps->size() && ((*cps)[i] < 0x20 || (*cps)[i] > 0x7e)) {
      char32_t c = (*cps)[i++];
      auto put = [&](char32_t unit) {
        utf16 += static_cast<char>((unit >> 8) & 0xFF);
        utf16 += static_cast<char>(unit & 0xFF);
      };
      if (c >= 0x10000) {
        c -= 0x10000;
        put(0xD800 + (c >> 10));
        put(0xDC00 + (c & 0x3FF));
      } else {
        put(c);
      }
    }
    out += '&';
    std::uint32_t bits = 0;
    int nbits = 0;
    for (unsigned char b : utf16) {
      bits = (bits << 8) | b;
      nbits += 8;
      while (nbits >= 6) {
        nbits -= 6;
        out += kBase64Imap[(bits >> nbits) & 0x3F];
      }
    }
    if (nbits > 0) out += kBase64Imap[(bits << (6 - nbits)) & 0x3F];
    out += '-';
  }
  return out;
}

core::Result<std::string> decode_mailbox_utf7(std::string_view s) {
  auto bad = [] { return core::Error::invalid("mailbox", "not modified UTF-7"); };
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) return bad();
    if (c != '&') {
      out += c;
      ++i;
      continue;
    }
    const std::size_t end = s.find('-', i + 1);
    if (end == std::string_view::npos) return bad();
    if (end == i + 1) {  // "&-" is "&"
      out += '&';
      i = end + 1;
      continue;
    }
    std::uint32_t bits = 0;
    int nbits = 0;
    std::vector<char16_t> units;
    for (std::size_t k = i + 1; k < end; ++k) {
      const int v = imap_b64_value(s[k]);
      if (v < 0) return bad();
      bits = (bits << 6) | static_cast<std::uint32_t>(v);
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        units.push_back(static_cast<char16_t>((bits >> nbits) & 0xFFFF));
      }
    }
    // Leftover bits are padding: fewer than 6 and all zero.
    if (nbits >= 6 || (bits & ((1U << nbits) - 1)) != 0) return bad();
    for (std::size_t k = 0; k < units.size(); ++k) {
      char32_t cp = units[k];
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (k + 1 >= units.size() || units[k + 1] < 0xDC00 || units[k + 1] > 0xDFFF) {
          return bad();
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (units[++k] - 0xDC00);
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return bad();
      } else if (cp >= 0x20 && cp <= 0x7e) {
        return bad();  // §5.1.3: printable ASCII must not be base64-encoded
      }
      core::append_utf8(out, cp);
    }
    i = end + 1;
  }
  return out;
}

std::string format_uid_set(std::span<const std::uint32_t> uids) {
  std::string out;
  for (std::size_t i = 0; i < uids.size();) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(uids[i]);
    if (j > i) out += ':' + std::to_string(uids[j]);
    i = j + 1;
  }
  return out;
}

core::Result<std::string> normalize_flag_list(std::string_view flags) {
  std::string_view inner = flags;
  while (!inner.empty() && inner.front() == ' ') inner.remove_prefix(1);
  while (!inner.empty() && inner.back() == ' ') inner.remove_suffix(1);
  if (!inner.empty() && inner.front() == '(') {
    if (inner.back() != ')') return core::Error::invalid("flags", "unbalanced parenthesis");
    inner = inner.substr(1, inner.size() - 2);
  }
  std::string out = "(";
  std::size_t count = 0;
  while (!inner.empty()) {
    const std::size_t sp = inner.find(' ');
    std::string_view flag = inner.substr(0, sp);
    inner = sp == std::string_view::npos ? std::string_view() : inner.substr(sp + 1);
    if (flag.empty()) continue;
    // flag = "\" atom (system flags, RFC 3501 §2.3.2) / keyword (an atom).
    std::string_view name = flag.front() == '\\' ? flag.substr(1) : flag;
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_atom_char)) {
      return core::Error::invalid("flags", "not a flag: " + std::string(flag.substr(0, 40)));
    }
    if (count++ > 0) out += ' ';
    out += flag;
  }
  if (count == 0) return core::Error::invalid("flags", "no flags given");
  out += ')';
  return out;
}

}  // namespace coibridge::connectors::coi::imap
