#include "core/store/pg/migrator.hpp"

#include <openssl/evp.h>

#include <map>

#include "core/text/hex.hpp"

namespace coibridge::core::pg {
namespace {

// Arbitrary but fixed: the advisory lock key that serializes migrations across instances.
constexpr std::int64_t kMigrationLockKey = 0x636f6962726467;  // "coibrdg"

struct Applied {
  std::string name;
  std::string checksum;
};

std::map<int, Applied> load_applied(pqxx::transaction_base& tx) {
  std::map<int, Applied> out;
  for (const auto& r : tx.exec("SELECT version, name, checksum FROM schema_migrations")) {
    out[r[0].as<int>()] = {r[1].as<std::string>(), r[2].as<std::string>()};
  }
  return out;
}

Status verify(const std::map<int, Applied>& applied, const std::vector<Migration>& migrations) {
  std::map<int, const Migration*> known;
  for (const auto& m : migrations) known[m.version] = &m;
  for (const auto& [version, a] : applied) {
    auto it = known.find(version);
    if (it == known.end()) {
      return Error::internal("the database has migration " + std::to_string(version) + " (" +
                             a.name +
                             ") that this coi-bridge does not know; is it an older version?");
    }
    if (sha256_hex(it->second->sql) != a.checksum) {
      return Error::internal("migration " + a.name +
                             " was changed after it was applied (checksum mismatch); applied "
                             "migrations must never be edited");
    }
  }
  return {};
}

}  // namespace

std::string sha256_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned int i = 0; i < len; ++i) core::append_hex(out, digest[i]);
  return out;
}

Result<MigrationReport> migrate(pqxx::connection& conn, const std::vector<Migration>& migrations) {
  pqxx::work tx(conn);
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
  tx.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
      " applied_at timestamptz NOT NULL DEFAULT now())");
  const auto applied = load_applied(tx);
  if (auto st = verify(applied, migrations); !st) return st.error();

  MigrationReport report;
  for (const auto& m : migrations) {
    if (applied.count(m.version) != 0) {
      report.current_version = m.version;
      continue;
    }
    try {
      tx.exec(m.sql);
    } catch (const pqxx::sql_error& e) {
      return Error::internal("migration " + m.name + " failed: " + e.what());
    }
    tx.exec_params("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                   m.version, m.name, sha256_hex(m.sql));
    report.applied.push_back(m.name);
    report.current_version = m.version;
  }
  tx.commit();
  return report;
}

Result<bool> migrations_current(pqxx::connection& conn, const std::vector<Migration>& migrations) {
  pqxx::read_transaction tx(conn);
  if (tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL")[0][0].as<bool>() == false) {
    return false;
  }
  const auto applied = load_applied(tx);
  if (auto st = verify(applied, migrations); !st) return st.error();
  for (const auto& m : migrations) {
    if (applied.count(m.version) == 0) return false;
  }
  return true;
}

}  // namespace coibridge::core::pg
