#pragma once
// Every SQL statement coi-bridge runs after migration is a named prepared statement, listed
// in statements.cpp and prepared on each new connection. Parameters are always positional.

#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace coibridge::core::pg {

void prepare_statements(pqxx::connection& conn);

// A PostgreSQL array literal of text values, for a `$n::text[]` parameter (libpqxx 6 passes
// no arrays): every element quoted, quotes and backslashes escaped.
std::string text_array(const std::vector<std::string>& values);

}  // namespace coibridge::core::pg
