#include "connectors/matrix/registration.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>

namespace coibridge::connectors::matrix {
namespace {

std::string random_token(std::size_t length) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string out;
  while (out.size() < length) {
    unsigned char buf[64];
    if (RAND_bytes(buf, sizeof buf) != 1)
      throw std::runtime_error("no randomness for the appservice tokens");
    for (unsigned char b : buf) {
      if (b < 248 && out.size() < length)
        out.push_back(kAlphabet[b % 62]);  // 248 = 4 * 62: no modulo bias
    }
  }
  return out;
}

std::string regex_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::strchr(".^$|()[]{}*+?\\", c) != nullptr) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string user_regex_for(const MatrixConnectorConfig& c) {
  return "@" + regex_escape(c.ghost_prefix) + ".*:" + regex_escape(c.server_name);
}
std::string alias_regex_for(const MatrixConnectorConfig& c) {
  return "#" + regex_escape(c.ghost_prefix) + ".*:" + regex_escape(c.server_name);
}

}  // namespace

Registration new_registration(const MatrixConnectorConfig& config) {
  return {config.name,
          config.url,
          random_token(64),
          random_token(64),
          config.bot_localpart,
          user_regex_for(config),
          alias_regex_for(config)};
}

std::string registration_yaml(const Registration& r) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "id" << YAML::Value << r.id;
  out << YAML::Key << "url" << YAML::Value << r.url;
  out << YAML::Key << "as_token" << YAML::Value << r.as_token;
  out << YAML::Key << "hs_token" << YAML::Value << r.hs_token;
  out << YAML::Key << "sender_localpart" << YAML::Value << r.sender_localpart;
  out << YAML::Key << "rate_limited" << YAML::Value << false;
  // Receipts and typing (stable since v1.13), and the unstable MSC2409 key older servers read.
  out << YAML::Key << "receive_ephemeral" << YAML::Value << true;
  out << YAML::Key << "de.sorunome.msc2409.push_ephemeral" << YAML::Value << true;
  out << YAML::Key << "namespaces" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq << YAML::BeginMap << YAML::Key
      << "exclusive" << YAML::Value << true << YAML::Key << "regex" << YAML::Value
      << YAML::SingleQuoted << r.user_regex << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "aliases" << YAML::Value << YAML::BeginSeq << YAML::BeginMap << YAML::Key
      << "exclusive" << YAML::Value << true << YAML::Key << "regex" << YAML::Value
      << YAML::SingleQuoted << r.alias_regex << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "rooms" << YAML::Value << YAML::BeginSeq << YAML::EndSeq;
  out << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

core::Status write_registration(const std::string& path, const Registration& registration) {
  const std::string text = registration_yaml(registration);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return core::Error::conflict(path + " exists; remove it first to make new tokens");
    return core::Error::invalid("registration",
                                "cannot create " + path + ": " + std::strerror(errno));
  }
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool closed = ::close(fd) == 0;
  if (!ok || !closed) return core::Error::internal("cannot write " + path);
  return {};
}

core::Result<Registration> load_registration(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return core::Error::invalid("registration", "cannot read the registration file " + path);
  } catch (const YAML::Exception& e) {
    return core::Error::invalid("registration", path + ": not YAML: " + e.msg);
  }
  Registration r;
  try {
    if (!root.IsMap()) return core::Error::invalid("registration", path + ": expected a mapping");
    for (auto [field, out] :
         {std::pair{"id", &r.id}, std::pair{"url", &r.url}, std::pair{"as_token", &r.as_token},
          std::pair{"hs_token", &r.hs_token}, std::pair{"sender_localpart", &r.sender_localpart}}) {
      if (!root[field] || !root[field].IsScalar() || root[field].as<std::string>().empty()) {
        return core::Error::invalid("registration", path + ": `" + field + "` is missing or empty");
      }
      *out = root[field].as<std::string>();
    }
    const auto first_regex = [&](const char* ns) -> std::string {
      const auto list = root["namespaces"][ns];
      if (!list || !list.IsSequence() || list.size() == 0 || !list[0]["regex"]) return {};
      return list[0]["regex"].as<std::string>();
    };
    r.user_regex = first_regex("users");
    r.alias_regex = first_regex("aliases");
  } catch (const YAML::Exception& e) {
    return core::Error::invalid("registration", path + ": " + e.msg);
  }
  return r;
}

core::Status check_registration(const Registration& r, const MatrixConnectorConfig& c) {
  const auto differs = [&](const char* field, const std::string& in_file,
                           const std::string& in_config, const char* config_key) {
    return core::Error::invalid("registration", "registration " + c.registration + ": `" + field +
                                                    "` is \"" + in_file + "\" but the config's " +
                                                    config_key + " says \"" + in_config + "\"");
  };
  if (r.id != c.name) return differs("id", r.id, c.name, "name");
  if (r.url != c.url) return differs("url", r.url, c.url, "url");
  if (r.sender_localpart != c.bot_localpart)
    return differs("sender_localpart", r.sender_localpart, c.bot_localpart, "bot_localpart");
  if (r.user_regex != user_regex_for(c)) {
    return differs("namespaces.users[0].regex", r.user_regex, user_regex_for(c),
                   "ghost_prefix and server_name");
  }
  if (r.as_token.size() < 32 || r.hs_token.size() < 32) {
    return core::Error::invalid(
        "registration", "registration " + c.registration + ": tokens shorter than 32 characters");
  }
  if (tokens_equal(r.as_token, r.hs_token)) {
    return core::Error::invalid(
        "registration", "registration " + c.registration + ": as_token and hs_token must differ");
  }
  return {};
}

bool tokens_equal(std::string_view a, std::string_view b) {
  // The length is no secret (our tokens all have 64 characters); the content is compared in
  // constant time.
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace coibridge::connectors::matrix
