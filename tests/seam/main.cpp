// coi-bridge built with one more connector type than it ships with, composed outside core/.

#include "connectors/connector_types.hpp"
#include "core/app/app.hpp"
#include "tests/seam/notes/notes_connector.hpp"

int main(int argc, char** argv) {
  auto types = coibridge::connectors::builtin_connector_types();
  types.push_back(coibridge::tests::notes::connector_type());
  return coibridge::app::main(argc, argv, types);
}
