#pragma once
// "notes": a connector type that exists only to show that a network is one folder. A
// conversation is a subdirectory of `dir`; a file <dir>/<conversation>/<id>.in is a message
// (its text) from `author`, published and then renamed to <id>.done; a delivery is written as
// <dir>/<conversation>/<event id>.out holding "<sender>: <text>".

#include <memory>
#include <string>

#include "core/config/config_section.hpp"
#include "core/config/connector_config.hpp"
#include "core/connector/connector_type.hpp"

namespace coibridge::tests::notes {

struct NotesConfig : core::ConnectorConfig {
  std::string dir;
  std::string author = "notes-user";
};

core::ConnectorType connector_type();

}  // namespace coibridge::tests::notes
