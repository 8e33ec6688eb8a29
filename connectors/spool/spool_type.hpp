#pragma once
// The spool connector as a connector type: connectors.spool[] in the configuration.

#include "core/connector/connector_type.hpp"

namespace coibridge::connectors::spool {

core::ConnectorType connector_type();

}  // namespace coibridge::connectors::spool
