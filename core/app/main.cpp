// coi-bridge: bridges chat over email (COI, Delta Chat) to other chat networks.

#include "connectors/connector_types.hpp"
#include "core/app/app.hpp"

int main(int argc, char** argv) {
  return coibridge::app::main(argc, argv, coibridge::connectors::builtin_connector_types());
}
