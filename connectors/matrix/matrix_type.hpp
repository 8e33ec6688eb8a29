#pragma once
// The Matrix connector as a connector type: connectors.matrix[] in the configuration, and the
// generate-registration command.

#include "core/connector/connector_type.hpp"

namespace coibridge::connectors::matrix {

core::ConnectorType connector_type();

}  // namespace coibridge::connectors::matrix
