#include "core/admin/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdlib>

#include "core/text/ascii.hpp"

namespace coibridge::core {
namespace {

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

using ascii::iequals;

}  // namespace

bool AuthResult::permits(Scope scope) const {
  if (outcome != AuthOutcome::kOk) return scope == Scope::kNone;
  switch (scope) {
    case Scope::kNone:
      return true;
    case Scope::kRead:
      return can_read || can_write;
    case Scope::kWrite:
      return can_write;
  }
  return false;
}

std::optional<std::string_view> parse_bearer(std::string_view authorization) {
  // credentials = auth-scheme [ 1*SP token68 ] (RFC 9110 §11.4); the scheme name is
  // case-insensitive (§11.1). Configured tokens are printable ASCII without spaces, a
  // superset of RFC 6750's b64token, so that is what is accepted here.
  const std::string_view value = trim_ows(authorization);
  const auto space = value.find(' ');
  if (space == std::string_view::npos || !iequals(value.substr(0, space), "Bearer")) {
    return std::nullopt;
  }
  std::string_view token = value.substr(space);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  if (token.empty()) return std::nullopt;
  for (char c : token) {
    if (c <= ' ' || c >= '\x7f') return std::nullopt;
  }
  return token;
}

TokenAuthenticator::Digest TokenAuthenticator::digest(std::string_view text) {
  Digest out{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), out.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != out.size()) {
    // Only a broken OpenSSL installation gets here; authenticating without a digest would be
    // worse than stopping.
    std::abort();
  }
  return out;
}

TokenAuthenticator::TokenAuthenticator(const std::vector<AdminToken>& tokens) {
  entries_.reserve(tokens.size());
  for (const auto& t : tokens) {
    entries_.push_back({digest(t.token), t.name, t.can_read, t.can_write});
  }
}

AuthResult TokenAuthenticator::authenticate(const std::optional<std::string>& authorization) const {
  AuthResult result;
  if (!authorization) return result;
  const auto token = parse_bearer(*authorization);
  if (!token) {
    result.outcome = AuthOutcome::kMalformed;
    return result;
  }
  // Comparing fixed-size digests rather than the tokens keeps both the length and the
  // position of the first differing byte out of the timing; looping over every entry without
  // breaking keeps out which entry matched.
  const Digest presented = digest(*token);
  const Entry* match = nullptr;
  for (const auto& entry : entries_) {
    const bool equal = CRYPTO_memcmp(presented.data(), entry.digest.data(), presented.size()) == 0;
    if (equal && match == nullptr) match = &entry;
  }
  if (match == nullptr) {
    result.outcome = AuthOutcome::kUnknown;
    return result;
  }
  result.outcome = AuthOutcome::kOk;
  result.name = match->name;
  result.can_read = match->can_read;
  result.can_write = match->can_write;
  return result;
}

}  // namespace coibridge::core
