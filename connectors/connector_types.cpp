#include "connectors/connector_types.hpp"

#include "connectors/coi/coi_type.hpp"
#include "connectors/matrix/matrix_type.hpp"
#include "connectors/spool/spool_type.hpp"

namespace coibridge::connectors {

core::ConnectorTypes builtin_connector_types() {
  return {
      spool::connector_type(),
      coi::connector_type(),
      matrix::connector_type(),
  };
}

}  // namespace coibridge::connectors
