#include "connectors/coi/imap/imap_parser.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

#include "connectors/coi/imap/imap_chars.hpp"
#include "core/text/ascii.hpp"

namespace coibridge::connectors::coi::imap {

namespace {

using core::ascii::iequals;
using core::ascii::upper;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

template <class T>
std::optional<T> parse_uint(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  T v{};
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// Server text for error messages: short, printable, so a log line stays one line.
std::string excerpt(std::string_view s) {
  constexpr std::size_t kMax = 60;
  std::string out;
  for (char c : s.substr(0, kMax)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  if (s.size() > kMax) out += "...";
  return out;
}

// The literal marker at the end of a line segment: "{n}", "{n+}" (LITERAL+, RFC 7888) or
// "~{n}" (literal8, RFC 3516 §4.2). Returns its start and n.
struct Marker {
  std::size_t pos = 0;
  std::uint64_t length = 0;
};
std::optional<Marker> find_marker(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  const std::size_t open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), is_digit)) return std::nullopt;
  auto n = parse_uint<std::uint64_t>(digits);
  if (!n) return Marker{open, std::numeric_limits<std::uint64_t>::max()};  // overflow
  std::size_t pos = open;
  if (pos > 0 && line[pos - 1] == '~') --pos;
  return Marker{pos, *n};
}

bool is_status_word(std::string_view w) {
  return iequals(w, "OK") || iequals(w, "NO") || iequals(w, "BAD") || iequals(w, "PREAUTH") ||
         iequals(w, "BYE");
}

Condition condition_of(std::string_view w) {
  if (iequals(w, "OK")) return Condition::kOk;
  if (iequals(w, "NO")) return Condition::kNo;
  if (iequals(w, "BAD")) return Condition::kBad;
  if (iequals(w, "PREAUTH")) return Condition::kPreauth;
  if (iequals(w, "BYE")) return Condition::kBye;
  return Condition::kNone;
}

// Only untagged data may carry literals: status responses and continuation requests are one
// line of resp-text, which has no literal (RFC 3501 §9 resp-text, TEXT-CHAR excludes CRLF),
// so a "{5}" at the end of their text is text.
bool literals_allowed(std::string_view first_line) {
  if (first_line.size() < 2 || first_line[0] != '*' || first_line[1] != ' ') return false;
  std::string_view rest = first_line.substr(2);
  const std::size_t sp = rest.find(' ');
  return !is_status_word(rest.substr(0, sp));
}

// Tag characters: ASTRING-CHAR (ATOM-CHAR or resp-specials "]") except "+" (RFC 3501 §9 tag).
bool is_tag_char(char c) { return (c == ']' || !is_atom_special(c)) && c != '+'; }

// Reads the value tree out of the line segments and literals of one response.
class Tokenizer {
 public:
  Tokenizer(std::vector<std::string>& lines, std::vector<std::string>& literals,
            const std::vector<std::size_t>& markers, const ParserLimits& limits)
      : lines_(lines), literals_(literals), markers_(markers), limits_(limits) {}

  // Values until the end of the response (or, inside a list, until ")").
  core::Result<std::vector<Value>> values(std::size_t depth) {
    std::vector<Value> out;
    for (;;) {
      skip_spaces();
      if (at_line_end() && !at_end()) return error("literal marker not at the end of a value");
      if (at_end()) {
        if (depth > 0) return error("unterminated list");
        return out;
      }
      if (peek() == ')') {
        if (depth == 0) return error("unexpected ')'");
        ++pos_;
        return out;
      }
      auto v = value(depth);
      if (!v.ok()) return v.error();
      out.push_back(std::move(*v));
    }
  }

  // From the current position to the end of the current line, as sent.
  std::string_view rest_of_line() {
    std::string_view line = lines_[line_];
    std::string_view r = line.substr(std::min(pos_, line.size()));
    pos_ = line.size();
    return r;
  }
  // The next run of characters up to a space (for the tag and keywords).
  std::string_view word() {
    std::string_view line = lines_[line_];
    const std::size_t start = pos_;
    while (pos_ < line.size() && line[pos_] != ' ') ++pos_;
    return line.substr(start, pos_ - start);
  }
  bool consume_space() {
    if (!at_line_end() && lines_[line_][pos_] == ' ') {
      ++pos_;
      return true;
    }
    return false;
  }
  bool at_line_end() const { return pos_ >= lines_[line_].size(); }
  char peek() const { return lines_[line_][pos_]; }
  bool at_end() const { return at_line_end() && line_ + 1 >= lines_.size(); }

 private:
  core::Error error(std::string what) const {
    return core::Error::invalid(
        "imap", what + " in \"" + excerpt(lines_[line_]) + "\" at " + std::to_string(pos_));
  }

  void skip_spaces() {
    while (!at_line_end() && lines_[line_][pos_] == ' ') ++pos_;
  }

  bool at_marker() const { return line_ < markers_.size() && pos_ == markers_[line_]; }

  core::Result<Value> value(std::size_t depth) {
    if (++count_ > limits_.max_values) return error("too many values");
    if (at_marker()) return literal();
    const char c = peek();
    if (c == '(') {
      if (depth + 1 > limits_.max_depth) return error("lists nested too deeply");
      ++pos_;
      auto items = values(depth + 1);
      if (!items.ok()) return items.error();
      Value v;
      v.type = Value::Type::kList;
      v.items = std::move(*items);
      return v;
    }
    if (c == '"') return quoted();
    if (c == '{') return error("malformed literal");
    return atom();
  }

  core::Result<Value> literal() {
    Value v;
    v.type = Value::Type::kString;
    v.literal = true;
    v.text = std::move(literals_[line_]);
    ++line_;
    pos_ = 0;
    return v;
  }

  // RFC 3501 §9 quoted: DQUOTE *QUOTED-CHAR DQUOTE, where only "\" and DQUOTE are escaped.
  core::Result<Value> quoted() {
    std::string_view line = lines_[line_];
    ++pos_;
    Value v;
    v.type = Value::Type::kString;
    while (pos_ < line.size()) {
      const char c = line[pos_++];
      if (c == '"') return v;
      if (c == '\\') {
        if (pos_ >= line.size()) break;
        const char e = line[pos_++];
        if (e != '\\' && e != '"') return error("invalid escape in quoted string");
        v.text += e;
      } else {
        v.text += c;
      }
    }
    return error("unterminated quoted string");
  }

  // Atoms, flags (\Seen, \*), numbers, NIL and fetch item names with a section such as
  // BODY[HEADER.FIELDS (FROM)]<0>: the bracketed part may hold spaces and parentheses.
  core::Result<Value> atom() {
    std::string_view line = lines_[line_];
    const std::size_t start = pos_;
    while (pos_ < line.size() && !at_marker()) {
      const char c = line[pos_];
      const auto u = static_cast<unsigned char>(c);
      if (c == ' ' || c == '(' || c == ')' || c == '"' || c == '{') break;
      if (u < 0x20 || u == 0x7f) return error("control character");
      if (c == '[') {
        const std::size_t close = section_end(line, pos_);
        if (close == std::string_view::npos) return error("unterminated '['");
        pos_ = close + 1;
        continue;
      }
      ++pos_;
    }
    if (pos_ == start) return error("unexpected character");
    Value v;
    v.text = std::string(line.substr(start, pos_ - start));
    if (iequals(v.text, "NIL")) {
      v.type = Value::Type::kNil;
      v.text.clear();
    } else if (std::all_of(v.text.begin(), v.text.end(), is_digit)) {
      if (auto n = parse_uint<std::uint64_t>(v.text)) {
        v.type = Value::Type::kNumber;
        v.number = *n;
      } else {
        v.type = Value::Type::kAtom;  // too big for a number; whoever needs one rejects it
      }
    } else {
      v.type = Value::Type::kAtom;
    }
    return v;
  }

  static std::size_t section_end(std::string_view line, std::size_t open) {
    std::size_t depth = 0;
    for (std::size_t i = open; i < line.size(); ++i) {
      if (line[i] == '[') ++depth;
      if (line[i] == ']' && --depth == 0) return i;
    }
    return std::string_view::npos;
  }

  std::vector<std::string>& lines_;
  std::vector<std::string>& literals_;
  const std::vector<std::size_t>& markers_;
  const ParserLimits& limits_;
  std::size_t line_ = 0;
  std::size_t pos_ = 0;
  std::size_t count_ = 0;
};

// "[CODE args] text" after a status word or "+" (RFC 3501 §7.1 resp-text). A "[" without a
// closing "]" is left as text: resp-text is for humans and never worth dropping a session.
void parse_resp_text(std::string_view s, const ParserLimits& limits, Response& r) {
  if (!s.empty() && s.front() == '[') {
    const std::size_t close = s.find(']');
    if (close != std::string_view::npos) {
      std::string_view inner = s.substr(1, close - 1);
      const std::size_t sp = inner.find(' ');
      ResponseCode code;
      code.name = upper(inner.substr(0, sp));
      if (sp != std::string_view::npos) {
        code.raw_args = std::string(inner.substr(sp + 1));
        std::vector<std::string> lines{code.raw_args};
        std::vector<std::string> literals;
        std::vector<std::size_t> markers;
        Tokenizer t(lines, literals, markers, limits);
        if (auto args = t.values(0); args.ok()) code.args = std::move(*args);
      }
      r.code = std::move(code);
      s.remove_prefix(close + 1);
      if (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    }
  }
  r.text = std::string(s);
}

}  // namespace

bool Value::is_atom(std::string_view word) const {
  return type == Type::kAtom && iequals(text, word);
}

std::optional<std::string_view> Value::as_astring() const {
  if (type == Type::kAtom || type == Type::kNumber || type == Type::kString) return text;
  return std::nullopt;
}

ResponseParser::ResponseParser(ParserLimits limits) : limits_(limits) {}

void ResponseParser::feed(std::string_view bytes) { in_.append(bytes); }

std::size_t ResponseParser::pending_bytes() const {
  std::size_t n = in_.size() - in_pos_;
  for (const auto& l : lines_) n += l.size() + 2;
  for (const auto& l : literals_) n += l.size();
  return n;
}

core::Error ResponseParser::fail(std::string message) {
  error_ = core::Error::invalid("imap", std::move(message));
  in_.clear();
  in_pos_ = scan_pos_ = 0;
  lines_.clear();
  literals_.clear();
  marker_pos_.clear();
  return *error_;
}

void ResponseParser::compact() {
  // Drop consumed bytes once they dominate the buffer, so the buffer stays proportional to
  // what is still unparsed.
  if (in_pos_ > 0 && in_pos_ >= in_.size() / 2) {
    in_.erase(0, in_pos_);
    scan_pos_ = scan_pos_ > in_pos_ ? scan_pos_ - in_pos_ : 0;
    in_pos_ = 0;
  }
}

core::Result<std::optional<Response>> ResponseParser::next() {
  if (error_) return *error_;
  for (;;) {
    if (in_literal_) {
      const std::size_t take = std::min(literal_left_, in_.size() - in_pos_);
      std::string& lit = literals_.back();
      if (lit.capacity() < lit.size() + take) {
        // Grow geometrically but never past the announced size: a server announcing a big
        // literal and sending nothing costs nothing up front.
        lit.reserve(
            std::min(lit.size() + literal_left_, std::max(lit.size() + take, 2 * lit.capacity())));
      }
      lit.append(in_, in_pos_, take);
      in_pos_ += take;
      literal_left_ -= take;
      if (literal_left_ > 0) {
        compact();
        return std::optional<Response>();
      }
      in_literal_ = false;
      scan_pos_ = in_pos_;
    }

    const std::size_t lf = in_.find('\n', scan_pos_);
    if (lf == std::string::npos) {
      scan_pos_ = in_.size();
      if (in_.size() - in_pos_ > limits_.max_line_bytes + 1) {
        return fail("line longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
      }
      compact();
      return std::optional<Response>();
    }
    if (lf == in_pos_ || in_[lf - 1] != '\r') return fail("line not terminated by CRLF");
    std::string_view line(in_.data() + in_pos_, lf - 1 - in_pos_);
    if (line.size() > limits_.max_line_bytes) {
      return fail("line longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
    }
    if (line.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) {
      return fail("CR or NUL inside a line: \"" + excerpt(line) + "\"");
    }
    response_bytes_ += line.size() + 2;
    if (response_bytes_ > limits_.max_response_bytes) return fail("response too large");
    if (lines_.empty()) literals_allowed_ = literals_allowed(line);

    std::optional<Marker> marker;
    if (literals_allowed_) marker = find_marker(line);
    lines_.emplace_back(line);
    in_pos_ = lf + 1;
    scan_pos_ = in_pos_;

    if (marker) {
      if (marker->length > limits_.max_literal_bytes) {
        return fail("literal of " + std::to_string(marker->length) + " bytes exceeds " +
                    std::to_string(limits_.max_literal_bytes));
      }
      response_bytes_ += marker->length;
      if (response_bytes_ > limits_.max_response_bytes) return fail("response too large");
      marker_pos_.push_back(marker->pos);
      literals_.emplace_back();
      literal_left_ = static_cast<std::size_t>(marker->length);
      in_literal_ = true;
      continue;
    }

    auto r = finish();
    lines_.clear();
    literals_.clear();
    marker_pos_.clear();
    response_bytes_ = 0;
    compact();
    if (!r.ok()) return fail(r.error().message);
    return std::optional<Response>(std::move(*r));
  }
}

core::Result<Response> ResponseParser::finish() {
  Tokenizer t(lines_, literals_, marker_pos_, limits_);
  Response r;
  auto bad = [&](std::string what) {
    return core::Error::invalid("imap", what + ": \"" + excerpt(lines_.front()) + "\"");
  };

  // Continuation request: "+" [SP resp-text]. A bare "+" is common and tolerated.
  if (!lines_.front().empty() && lines_.front().front() == '+') {
    r.kind = ResponseKind::kContinuation;
    std::string_view s = std::string_view(lines_.front()).substr(1);
    if (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    parse_resp_text(s, limits_, r);
    return r;
  }

  const std::string_view tag = t.word();
  if (tag.empty()) return bad("empty line");
  if (!t.consume_space()) return bad("response without content");
  if (tag == "*") {
    r.kind = ResponseKind::kUntagged;
  } else {
    if (!std::all_of(tag.begin(), tag.end(), is_tag_char)) return bad("invalid tag");
    r.kind = ResponseKind::kTagged;
    r.tag = std::string(tag);
  }

  std::string_view word = t.word();
  if (r.kind == ResponseKind::kUntagged && !word.empty() &&
      std::all_of(word.begin(), word.end(), is_digit)) {
    // message-data: "* nz-number SP ("EXPUNGE" / "FETCH" ...)", or "* n EXISTS".
    auto n = parse_uint<std::uint32_t>(word);
    if (!n) return bad("message number out of range");
    r.number = *n;
    if (!t.consume_space()) return bad("number without keyword");
    word = t.word();
  }
  if (word.empty()) return bad("missing keyword");
  if (!std::all_of(word.begin(), word.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '-' ||
               c == '.' || c == '_' || c == '=';
      })) {
    return bad("invalid keyword");
  }
  r.name = upper(word);

  if (!r.number && is_status_word(word)) {
    r.condition = condition_of(word);
    if (r.kind == ResponseKind::kTagged &&
        (r.condition == Condition::kPreauth || r.condition == Condition::kBye)) {
      return bad("tagged " + r.name);
    }
    t.consume_space();
    parse_resp_text(t.rest_of_line(), limits_, r);
    return r;
  }
  if (r.kind == ResponseKind::kTagged) return bad("tagged response without OK, NO or BAD");

  auto data = t.values(0);
  if (!data.ok()) return data.error();
  r.data = std::move(*data);
  return r;
}

// ---- Decoders --------------------------------------------------------------------------

std::vector<std::string> decode_capabilities(const std::vector<Value>& values) {
  std::vector<std::string> caps;
  for (const auto& v : values) {
    if (v.type == Value::Type::kAtom || v.type == Value::Type::kNumber)
      caps.push_back(upper(v.text));
  }
  return caps;
}

namespace {

core::Error malformed(std::string_view what) {
  return core::Error::invalid("imap", "malformed " + std::string(what) + " response");
}

std::optional<std::vector<std::string>> flag_list(const Value& v) {
  if (!v.is_list()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& f : v.items) {
    if (f.type != Value::Type::kAtom) return std::nullopt;
    out.push_back(f.text);
  }
  return out;
}

}  // namespace

core::Result<FetchData> decode_fetch(Response&& r) {
  if (r.name != "FETCH" || !r.number || r.data.size() != 1 || !r.data[0].is_list()) {
    return malformed("FETCH");
  }
  FetchData f;
  f.seq = *r.number;
  auto& items = r.data[0].items;
  if (items.size() % 2 != 0) return malformed("FETCH");
  for (std::size_t i = 0; i < items.size(); i += 2) {
    const Value& key = items[i];
    Value& val = items[i + 1];
    if (key.type != Value::Type::kAtom) return malformed("FETCH");
    if (key.is_atom("UID")) {
      if (!val.is_number() || val.number == 0 || val.number > UINT32_MAX) return malformed("FETCH");
      f.uid = static_cast<std::uint32_t>(val.number);
    } else if (key.is_atom("FLAGS")) {
      f.flags = flag_list(val);
      if (!f.flags) return malformed("FETCH");
    } else if (key.is_atom("BODY[]")) {
      if (val.is_nil()) {
        f.body.emplace();
      } else if (val.type == Value::Type::kString) {
        f.body = std::move(val.text);
      } else {
        return malformed("FETCH");
      }
    } else if (key.is_atom("RFC822.SIZE")) {
      if (!val.is_number()) return malformed("FETCH");
      f.size = val.number;
    } else if (key.is_atom("MODSEQ")) {
      if (!val.is_list() || val.items.size() != 1 || !val.items[0].is_number()) {
        return malformed("FETCH");
      }
      f.modseq = val.items[0].number;
    }
  }
  return f;
}

core::Result<ListEntry> decode_list(const Response& r) {
  if ((r.name != "LIST" && r.name != "LSUB") || r.data.size() < 3 || !r.data[0].is_list()) {
    return malformed("LIST");
  }
  ListEntry e;
  for (const auto& a : r.data[0].items) {
    if (a.type != Value::Type::kAtom) return malformed("LIST");
    e.attributes.push_back(a.text);
  }
  const Value& delim = r.data[1];
  if (delim.is_nil()) {
    e.delimiter = '\0';
  } else if (delim.type == Value::Type::kString && delim.text.size() == 1) {
    e.delimiter = delim.text[0];
  } else {
    return malformed("LIST");
  }
  auto name = r.data[2].as_astring();
  if (!name) return malformed("LIST");
  // RFC 3501 §5.1: INBOX is case-insensitive.
  e.name = iequals(*name, "INBOX") ? std::string("INBOX") : std::string(*name);
  return e;
}

core::Result<MetadataData> decode_metadata(Response&& r) {
  if (r.name != "METADATA" || r.data.size() < 2) return malformed("METADATA");
  auto mailbox = r.data[0].as_astring();
  if (!mailbox) return malformed("METADATA");
  MetadataData m;
  m.mailbox = std::string(*mailbox);
  if (!r.data[1].is_list()) return m;  // §4.4.2 unsolicited: entry names only
  auto& items = r.data[1].items;
  if (items.size() % 2 != 0) return malformed("METADATA");
  for (std::size_t i = 0; i < items.size(); i += 2) {
    auto entry = items[i].as_astring();
    if (!entry) return malformed("METADATA");
    Value& val = items[i + 1];
    if (val.is_nil()) {
      m.entries.emplace_back(std::string(*entry), std::nullopt);
    } else if (val.type == Value::Type::kString || val.type == Value::Type::kAtom ||
               val.is_number()) {
      m.entries.emplace_back(std::string(*entry), std::move(val.text));
    } else {
      return malformed("METADATA");
    }
  }
  return m;
}

core::Result<VanishedData> decode_vanished(const Response& r) {
  if (r.name != "VANISHED" || r.data.empty()) return malformed("VANISHED");
  VanishedData v;
  std::size_t i = 0;
  if (r.data[0].is_list()) {
    if (r.data[0].items.size() != 1 || !r.data[0].items[0].is_atom("EARLIER")) {
      return malformed("VANISHED");
    }
    v.earlier = true;
    i = 1;
  }
  if (r.data.size() != i + 1) return malformed("VANISHED");
  auto set = r.data[i].as_astring();
  if (!set || r.data[i].type == Value::Type::kString) return malformed("VANISHED");
  auto count = sequence_set_count(*set);
  if (!count) return malformed("VANISHED");
  v.count = *count;
  return v;
}

std::optional<std::uint64_t> code_number(const ResponseCode& code) {
  if (code.args.empty() || !code.args[0].is_number()) return std::nullopt;
  return code.args[0].number;
}

std::optional<std::uint64_t> sequence_set_count(std::string_view set, std::uint64_t limit) {
  if (set.empty()) return std::nullopt;
  std::uint64_t total = 0;
  while (!set.empty()) {
    const std::size_t comma = set.find(',');
    std::string_view item = set.substr(0, comma);
    set = comma == std::string_view::npos ? std::string_view() : set.substr(comma + 1);
    if (comma != std::string_view::npos && set.empty()) return std::nullopt;  // trailing ","
    const std::size_t colon = item.find(':');
    auto a = parse_uint<std::uint32_t>(item.substr(0, colon));
    if (!a || *a == 0) return std::nullopt;
    std::uint64_t n = 1;
    if (colon != std::string_view::npos) {
      auto b = parse_uint<std::uint32_t>(item.substr(colon + 1));
      if (!b || *b == 0) return std::nullopt;
      n = static_cast<std::uint64_t>(*a > *b ? *a - *b : *b - *a) + 1;  // "9:8" is allowed
    }
    total += n;
    if (total > limit) return std::nullopt;
  }
  return total;
}

}  // namespace coibridge::connectors::coi::imap
