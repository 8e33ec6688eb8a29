// Hand-written scanners rather than std::regex: libstdc++'s regex recurses per character and
// can overflow the stack on long inputs, and log lines may be arbitrarily long.

#include "core/log/redact.hpp"

#include <array>
#include <cstddef>
#include <optional>

#include "core/text/ascii.hpp"

namespace coibridge::core {
namespace {

constexpr std::string_view kMask = "***";
constexpr std::size_t kNpos = std::string_view::npos;

// The credential value to replace, never empty.
struct Span {
  std::size_t begin;
  std::size_t end;
};
// Finds the first credential value that starts at or after `from`.
using Finder = std::optional<Span> (*)(std::string_view text, std::size_t from);

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_alpha(c) || (c >= '0' && c <= '9'); }
bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_space(char c) { return is_blank(c) || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_key_char(char c) { return is_alnum(c) || c == '_' || c == '-' || c == '.'; }
using core::ascii::to_lower;
constexpr auto equals_icase = core::ascii::iequals;

bool ends_with_icase(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         equals_icase(text.substr(text.size() - suffix.size()), suffix);
}

std::size_t skip_blanks(std::string_view text, std::size_t pos) {
  while (pos < text.size() && is_blank(text[pos])) ++pos;
  return pos;
}

// Next case-insensitive occurrence of `word` at or after `from`, as a whole word.
std::size_t find_word_icase(std::string_view text, std::string_view word, std::size_t from) {
  for (std::size_t i = from; i + word.size() <= text.size(); ++i) {
    if (i > 0 && is_alnum(text[i - 1])) continue;
    if (i + word.size() < text.size() && is_alnum(text[i + word.size()])) continue;
    if (equals_icase(text.substr(i, word.size()), word)) return i;
  }
  return kNpos;
}

// End of a header credential (token, base64): none of them contain these characters.
std::size_t end_of_run(std::string_view text, std::size_t pos) {
  while (pos < text.size() && !is_space(text[pos]) && text[pos] != '"' && text[pos] != '\'' &&
         text[pos] != ',') {
    ++pos;
  }
  return pos;
}

std::string mask_all(std::string_view text, Finder find) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (const auto span = find(text, pos)) {
    out.append(text.substr(pos, span->begin - pos));
    out.append(kMask);
    pos = span->end;
  }
  out.append(text.substr(pos));
  return out;
}

// scheme://user:password@host — the authority ends at the first '/', '?' or '#' (RFC 3986
// §3.2); the last '@' in it ends the userinfo, so an unescaped '@' in a password is covered.
std::optional<Span> find_url_password(std::string_view text, std::size_t from) {
  for (auto sep = text.find("://", from); sep != kNpos; sep = text.find("://", sep + 3)) {
    if (sep == 0 || !is_alnum(text[sep - 1])) continue;
    const std::size_t start = sep + 3;
    std::size_t end = start;
    while (end < text.size() && !is_space(text[end]) && text[end] != '/' && text[end] != '?' &&
           text[end] != '#' && text[end] != '"' && text[end] != '\'' && text[end] != '>') {
      ++end;
    }
    const std::string_view authority = text.substr(start, end - start);
    const auto at = authority.rfind('@');
    const auto colon = authority.find(':');
    if (at == kNpos || colon == kNpos || colon + 1 >= at) continue;
    return Span{start + colon + 1, start + at};
  }
  return std::nullopt;
}

bool is_secret_key(std::string_view key) {
  static constexpr std::array<std::string_view, 7> kSuffixes = {
      "password", "passwd", "secret", "token", "apikey", "api_key", "api-key"};
  for (const auto suffix : kSuffixes) {
    if (ends_with_icase(key, suffix)) return true;
  }
  return false;
}

// A '&' followed by `name=` starts the next query parameter; any other '&' belongs to the
// value (libpq passwords may contain one).
bool starts_next_param(std::string_view text, std::size_t amp) {
  std::size_t i = amp + 1;
  while (i < text.size() && is_key_char(text[i])) ++i;
  return i > amp + 1 && i < text.size() && text[i] == '=';
}

// A quoted libpq conninfo value: backslash escapes the next character. Returns the position
// after the closing quote (or the end, when unterminated: mask all of it).
std::size_t end_of_quoted(std::string_view text, std::size_t open) {
  const char quote = text[open];
  for (std::size_t i = open + 1; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == quote) {
      return i + 1;
    }
  }
  return text.size();
}

std::size_t end_of_unquoted(std::string_view text, std::size_t pos) {
  for (; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (is_space(c) || c == '"' || c == '\'') break;
    if (c == '&' && starts_next_param(text, pos)) break;
  }
  return pos;
}

// password=x, password = 'x y' (libpq conninfo allows blanks around '='), ?access_token=x&...
std::optional<Span> find_key_value(std::string_view text, std::size_t from) {
  for (auto eq = text.find('=', from); eq != kNpos; eq = text.find('=', eq + 1)) {
    std::size_t key_end = eq;
    while (key_end > 0 && is_blank(text[key_end - 1])) --key_end;
    std::size_t key_begin = key_end;
    while (key_begin > 0 && is_key_char(text[key_begin - 1])) --key_begin;
    if (!is_secret_key(text.substr(key_begin, key_end - key_begin))) continue;
    const std::size_t value = skip_blanks(text, eq + 1);
    if (value >= text.size()) continue;
    const bool quoted = text[value] == '\'' || text[value] == '"';
    const std::size_t end = quoted ? end_of_quoted(text, value) : end_of_unquoted(text, value);
    if (end > value) return Span{value, end};
  }
  return std::nullopt;
}

bool is_auth_scheme(std::string_view word) {
  static constexpr std::array<std::string_view, 8> kSchemes = {
      "basic", "bearer", "digest", "token", "negotiate", "ntlm", "oauth", "mac"};
  for (const auto scheme : kSchemes) {
    if (equals_icase(word, scheme)) return true;
  }
  return false;
}

// "Authorization: Basic x", "authorization": "x", authorization=x. The scheme word stays
// visible (it helps debugging and is no secret); the credentials are masked.
std::optional<Span> find_authorization(std::string_view text, std::size_t from) {
  static constexpr std::string_view kWord = "authorization";
  for (auto at = find_word_icase(text, kWord, from); at != kNpos;
       at = find_word_icase(text, kWord, at + 1)) {
    std::size_t i = at + kWord.size();
    if (i < text.size() && text[i] == '"') ++i;
    i = skip_blanks(text, i);
    if (i >= text.size() || (text[i] != ':' && text[i] != '=')) continue;
    i = skip_blanks(text, i + 1);
    if (i < text.size() && text[i] == '"') ++i;
    const std::size_t first_end = end_of_run(text, i);
    if (first_end == i) continue;
    std::size_t credentials = i;
    if (is_auth_scheme(text.substr(i, first_end - i))) {
      credentials = skip_blanks(text, first_end);
      if (credentials == first_end) continue;  // a scheme alone: nothing to hide
    }
    const std::size_t end = end_of_run(text, credentials);
    if (end > credentials) return Span{credentials, end};
  }
  return std::nullopt;
}

// "Bearer <token>" outside an Authorization header, e.g. in an error message quoting it.
std::optional<Span> find_bearer(std::string_view text, std::size_t from) {
  static constexpr std::string_view kWord = "bearer";
  for (auto at = find_word_icase(text, kWord, from); at != kNpos;
       at = find_word_icase(text, kWord, at + 1)) {
    const std::size_t value = skip_blanks(text, at + kWord.size());
    if (value == at + kWord.size()) continue;
    const std::size_t end = end_of_run(text, value);
    if (end > value) return Span{value, end};
  }
  return std::nullopt;
}

}  // namespace

std::string redact_secrets(std::string_view text) {
  std::string result(text);
  for (const Finder find :
       {&find_url_password, &find_key_value, &find_authorization, &find_bearer}) {
    result = mask_all(result, find);
  }
  return result;
}

}  // namespace coibridge::core
