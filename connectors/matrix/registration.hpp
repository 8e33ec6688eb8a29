#pragma once
// The application service registration (Matrix spec v1.13, Application Service API,
// "Registration"): the YAML file the homeserver loads. coi-bridge writes it once with fresh
// random tokens and reads it at every start, so the tokens exist in exactly one place.

#include <string>

#include "connectors/matrix/matrix_config.hpp"
#include "core/model/result.hpp"

namespace coibridge::connectors::matrix {

struct Registration {
  std::string id;
  std::string url;
  std::string as_token;
  std::string hs_token;
  std::string sender_localpart;
  std::string user_regex;   // the exclusive ghost namespace
  std::string alias_regex;  // the exclusive portal alias namespace
};

// A new registration for this connector: id = connector name, 64-character random tokens.
Registration new_registration(const MatrixConnectorConfig& config);
std::string registration_yaml(const Registration& registration);
// Writes the file with mode 0600; kConflict when it exists (tokens are never overwritten by
// accident: the homeserver would stop accepting the bridge).
core::Status write_registration(const std::string& path, const Registration& registration);
core::Result<Registration> load_registration(const std::string& path);

// What the registration must agree with in the config: the id, url, bot and namespaces.
// The error names the field that differs and both values.
core::Status check_registration(const Registration& registration,
                                const MatrixConnectorConfig& config);

// Constant-time equality, for tokens presented by the homeserver.
bool tokens_equal(std::string_view a, std::string_view b);

}  // namespace coibridge::connectors::matrix
