#pragma once
// Bearer-token authentication of admin API requests (RFC 6750 §2.1) against the configured
// tokens. Token values never leave this class: not in logs, not in results.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/admin/routes.hpp"
#include "core/config/config.hpp"

namespace coibridge::core {

enum class AuthOutcome {
  kOk,
  kMissing,    // no Authorization field
  kMalformed,  // not "Bearer <token>"
  kUnknown,    // a well-formed token matching no configured one
};

struct AuthResult {
  AuthOutcome outcome = AuthOutcome::kMissing;
  std::string name;  // the matching token's name (the actor in the audit log), when kOk
  bool can_read = false;
  bool can_write = false;

  // Whether an authenticated caller may use a route needing `scope` (write implies read).
  bool permits(Scope scope) const;
};

class TokenAuthenticator {
 public:
  explicit TokenAuthenticator(const std::vector<AdminToken>& tokens);

  // `authorization` is the Authorization field value, nullopt when absent. Takes the same
  // time whichever configured token matches, or none: every digest is compared.
  AuthResult authenticate(const std::optional<std::string>& authorization) const;

 private:
  using Digest = std::array<unsigned char, 32>;  // SHA-256
  struct Entry {
    Digest digest;
    std::string name;
    bool can_read;
    bool can_write;
  };
  static Digest digest(std::string_view text);

  std::vector<Entry> entries_;
};

// The token of a "Bearer <token>" credential, or nullopt when the value is not one.
std::optional<std::string_view> parse_bearer(std::string_view authorization);

}  // namespace coibridge::core
