#pragma once
// Every connector type built into coi-bridge. A new network adds its folder, a line in
// CMakeLists.txt beside this file and a line in connector_types.cpp; nothing in core/.

#include "core/connector/connector_type.hpp"

namespace coibridge::connectors {

core::ConnectorTypes builtin_connector_types();

}  // namespace coibridge::connectors
