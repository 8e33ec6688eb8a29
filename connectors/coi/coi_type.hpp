#pragma once
// The COI / Delta Chat connector as a connector type: connectors.coi[] in the configuration.

#include "core/connector/connector_type.hpp"

namespace coibridge::connectors::coi {

core::ConnectorType connector_type();

}  // namespace coibridge::connectors::coi
