#pragma once
// A kind of network the bridge can talk to, as the core sees it: the key of its section under
// `connectors:`, the parser of that section, the factory of its instances and any
// command-line verbs of its own. The process is composed from a list of these
// (connectors/connector_types.hpp), so adding a network changes nothing in core/.

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <string>
#include <vector>

#include "core/config/config.hpp"
#include "core/config/connector_config.hpp"
#include "core/connector/connector.hpp"

namespace coibridge::core {

class BlobStore;
class CheckpointStore;
class ConversationStateStore;
class InboundLedger;
class MetricsRegistry;
class PuppetStore;

// What the process offers a connector it creates.
struct ConnectorServices {
  boost::asio::any_io_executor executor;  // the I/O context's
  CheckpointStore& checkpoints;
  BlobStore& blobs;
  InboundLedger& ledger;
  ConversationStateStore& conversations;
  PuppetStore& puppets;
  MetricsRegistry& metrics;
  // The instances, of any type, whose type offers direct chats (ConnectorType::direct_chats):
  // where a connector may open a person's direct chat when its config names none.
  std::vector<const ConnectorConfig*> direct_chat_instances;
};

// `coi-bridge <name>`: a command of a connector type, run with the instances of that type
// instead of the bridge. Returns the process exit status (core/app/cli.hpp).
struct CommandVerb {
  std::string name;     // "generate-registration"
  std::string summary;  // one line or more for --help, without indentation
  std::function<int(const std::vector<const ConnectorConfig*>& instances)> run;
};

struct ConnectorType {
  std::string key;  // under connectors:, [a-z0-9_]+
  ConnectorConfigParser parse;
  std::function<Result<ConnectorPtr>(const ConnectorConfig& config,
                                     const ConnectorServices& services)>
      create;
  std::vector<CommandVerb> verbs;
  // Whether its instances open direct chats towards their people (Connector::open_direct_chat).
  bool direct_chats = false;
};

using ConnectorTypes = std::vector<ConnectorType>;

// A ConnectorType::create from `make(const Config&, const ConnectorServices&)`, which returns
// the new connector: the instance's config arrives as the type's own struct.
template <class Config, class Make>
auto create_with(Make make) {
  return [make](const ConnectorConfig& config,
                const ConnectorServices& services) -> Result<ConnectorPtr> {
    return ConnectorPtr(make(dynamic_cast<const Config&>(config), services));
  };
}

// The parsers the configuration loader needs, by key.
ConnectorConfigParsers config_parsers(const ConnectorTypes& types);
const ConnectorType* find_type(const ConnectorTypes& types, std::string_view key);
// The verb of that name of any type, with its type.
struct FoundVerb {
  const ConnectorType* type = nullptr;
  const CommandVerb* verb = nullptr;
};
std::optional<FoundVerb> find_verb(const ConnectorTypes& types, std::string_view name);

}  // namespace coibridge::core
