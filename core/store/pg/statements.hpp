#pragma once
// Every SQL statement coi-bridge runs after migration is a named prepared statement, listed
// in statements.cpp and prepared on each new connection. Parameters are always positional.

#include <pqxx/pqxx>

namespace coibridge::core::pg {

void prepare_statements(pqxx::connection& conn);

}  // namespace coibridge::core::pg
