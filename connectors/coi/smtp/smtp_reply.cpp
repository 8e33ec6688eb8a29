#include "connectors/coi/smtp/smtp_reply.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/text/ascii.hpp"
#include "core/text/base64.hpp"

namespace coibridge::connectors::coi::smtp {
namespace {

using core::ascii::iequals;
using core::ascii::upper;

// Splits on spaces and tabs, dropping empty words.
std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// Reply code digits, RFC 5321 §4.2: first 2-5, second 0-5, third 0-9.
bool valid_code(std::string_view line) {
  return line.size() >= 3 && line[0] >= '2' && line[0] <= '5' && line[1] >= '0' && line[1] <= '5' &&
         line[2] >= '0' && line[2] <= '9';
}

}  // namespace

std::string Reply::summary(std::size_t max_bytes) const {
  std::string out = std::to_string(code);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += i == 0 ? " " : " / ";
    for (char c : lines[i]) {
      const auto u = static_cast<unsigned char>(c);
      out += (u < 0x20 || u == 0x7f) ? '?' : c;
    }
    if (out.size() > max_bytes) break;
  }
  if (out.size() > max_bytes) {
    out.resize(max_bytes);
    out += "...";
  }
  return out;
}

ParseResult parse_reply(std::string_view input) {
  ParseResult result;
  Reply reply;
  std::size_t pos = 0;
  while (true) {
    const std::size_t nl = input.find('\n', pos);
    if (nl == std::string_view::npos) {
      // No complete line: wait for more, unless the reply is already over the limit.
      if (input.size() > kMaxReplyBytes) {
        result.status = ParseStatus::kTooLarge;
        result.error = "reply longer than " + std::to_string(kMaxReplyBytes) + " bytes";
      }
      return result;
    }
    if (nl + 1 > kMaxReplyBytes) {
      result.status = ParseStatus::kTooLarge;
      result.error = "reply longer than " + std::to_string(kMaxReplyBytes) + " bytes";
      return result;
    }
    std::string_view line = input.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!valid_code(line) || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      result.status = ParseStatus::kMalformed;
      std::string shown;
      for (char c : line.substr(0, 80)) {
        const auto u = static_cast<unsigned char>(c);
        shown += (u < 0x20 || u == 0x7f) ? '?' : c;
      }
      result.error = "malformed reply line \"" + shown + "\"";
      return result;
    }
    int code = 0;
    std::from_chars(line.data(), line.data() + 3, code);
    if (reply.lines.empty()) {
      reply.code = code;
    } else if (code != reply.code) {
      // §4.2.1: every line of a multiline reply carries the same code.
      result.status = ParseStatus::kMalformed;
      result.error = "reply code changed within a multiline reply (" + std::to_string(reply.code) +
                     " then " + std::to_string(code) + ")";
      return result;
    }
    const bool last = line.size() == 3 || line[3] == ' ';
    reply.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view{});
    pos = nl + 1;
    if (last) {
      result.status = ParseStatus::kComplete;
      result.reply = std::move(reply);
      result.consumed = pos;
      return result;
    }
  }
}

bool Capabilities::has_auth(std::string_view mechanism) const {
  return std::any_of(auth_mechanisms.begin(), auth_mechanisms.end(),
                     [&](const std::string& m) { return iequals(m, mechanism); });
}

Capabilities parse_ehlo(const Reply& reply) {
  Capabilities caps;
  caps.esmtp = true;
  for (std::size_t i = 1; i < reply.lines.size(); ++i) {
    const std::string_view line = reply.lines[i];
    auto w = words(line);
    if (w.empty()) continue;
    std::string keyword = upper(w[0]);
    std::vector<std::string_view> params(w.begin() + 1, w.end());
    // Pre-RFC 4954 servers write "AUTH=PLAIN LOGIN".
    if (keyword.rfind("AUTH=", 0) == 0) {
      params.insert(params.begin(), w[0].substr(5));
      keyword = "AUTH";
    }
    if (keyword == "STARTTLS") {
      caps.starttls = true;
    } else if (keyword == "PIPELINING") {
      caps.pipelining = true;
    } else if (keyword == "8BITMIME") {
      caps.eightbitmime = true;
    } else if (keyword == "SMTPUTF8") {
      caps.smtputf8 = true;
    } else if (keyword == "SIZE") {
      caps.size = true;
      // RFC 1870 §4: an optional decimal limit; absent or 0 means no fixed limit. A
      // garbled number is ignored rather than trusted.
      if (!params.empty()) {
        std::uint64_t n = 0;
        const auto p = params[0];
        auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
        if (ec == std::errc{} && end == p.data() + p.size()) caps.size_limit = n;
      }
    } else if (keyword == "AUTH") {
      for (auto m : params) {
        std::string mech = upper(m);
        if (!caps.has_auth(mech)) caps.auth_mechanisms.push_back(std::move(mech));
      }
    }
  }
  return caps;
}

std::string normalize_line_endings(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 32 + 2);
  for (std::size_t i = 0; i < message.size(); ++i) {
    const char c = message[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < message.size() && message[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

std::string dot_stuff(std::string_view crlf_text) {
  std::string out;
  out.reserve(crlf_text.size() + crlf_text.size() / 64 + 3);
  bool line_start = true;
  for (char c : crlf_text) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  out += ".\r\n";
  return out;
}

bool has_8bit(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return (static_cast<unsigned char>(c) & 0x80) != 0; });
}

bool has_non_ascii(std::string_view text) { return has_8bit(text); }

std::string auth_plain_response(std::string_view username, std::string_view password) {
  std::string raw;
  raw.reserve(username.size() + password.size() + 2);
  raw += '\0';
  raw += username;
  raw += '\0';
  raw += password;
  return core::base64_encode(raw);
}

bool valid_address(std::string_view address, bool allow_empty) {
  if (address.empty()) return allow_empty;
  if (address.size() > 256) return false;
  return std::none_of(address.begin(), address.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x21 || u == 0x7f || c == '<' || c == '>';
  });
}

bool valid_helo_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '[' ||
           c == ']' || c == ':';
  });
}

std::string mail_from_command(std::string_view from, const MailParams& params) {
  std::string cmd = "MAIL FROM:<";
  cmd += from;
  cmd += '>';
  if (params.size) cmd += " SIZE=" + std::to_string(*params.size);
  if (params.body_8bitmime) cmd += " BODY=8BITMIME";
  if (params.smtputf8) cmd += " SMTPUTF8";
  cmd += "\r\n";
  return cmd;
}

std::string rcpt_to_command(std::string_view to) {
  std::string cmd = "RCPT TO:<";
  cmd += to;
  cmd += ">\r\n";
  return cmd;
}

core::Error error_from_reply(std::string_view server, std::string_view what, const Reply& reply) {
  std::string message = "SMTP ";
  message += server;
  message += ": ";
  message += what;
  message += reply.kind() == 5   ? " refused: "
             : reply.kind() == 4 ? " failed (transient): "
                                 : " got an unexpected reply: ";
  message += reply.summary();
  if (reply.kind() == 5) return core::Error::permanent(std::move(message));
  return core::Error::unavailable(std::move(message));
}

}  // namespace coibridge::connectors::coi::smtp
