#include "core/app/app.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <cstdio>
#include <list>
#include <optional>
#include <thread>

#include "core/admin/admin_api.hpp"
#include "core/app/database.hpp"
#include "core/connector/connector_type.hpp"
#include "core/connector/registry.hpp"
#include "core/metrics/metrics.hpp"
#include "core/net/backoff.hpp"
#include "core/net/http_server.hpp"
#include "core/router/delivery_scheduler.hpp"
#include "core/router/direct_chats.hpp"
#include "core/router/portal_links.hpp"
#include "core/router/router.hpp"
#include "core/store/pg/pg_blob_store.hpp"
#include "core/store/pg/pg_stores.hpp"

namespace coibridge::app {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto kTuple = asio::as_tuple(use_awaitable);

// Set by SIGINT or SIGTERM before the event loop watches for them (run_bridge).
volatile std::sig_atomic_t g_stop_asked = 0;

// How long start-up waits for a configured database server that is still coming up.
constexpr std::chrono::seconds kDatabaseWait{30};
// Attachment bytes are kept this long after they arrived (longer while a delivery or dead
// letter still names them), checked this often.
constexpr std::chrono::hours kBlobRetention{24 * 7};
constexpr std::chrono::hours kBlobPurgeInterval{1};
// Events of conversations linked to nothing are kept this long: long enough that a mail
// answering into a group finds its group, and that a mailbox read again (a new UIDVALIDITY)
// publishes nothing twice, even after the group was linked.
constexpr std::chrono::hours kUnlinkedRetention{24 * 30};

awaitable<void> purge_expired(core::BlobStore& blobs, core::EventStore& events,
                              const bool& stopping) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!stopping) {
    auto pruned = co_await events.prune_unlinked(
        std::chrono::duration_cast<std::chrono::seconds>(kUnlinkedRetention));
    if (!pruned) {
      spdlog::warn("unlinked events purge: {}", pruned.error().message);
    } else if (*pruned > 0) {
      spdlog::info("unlinked events purge: {} removed", *pruned);
    }
    auto purged = co_await blobs.purge(kBlobRetention);
    if (!purged) {
      spdlog::warn("attachment purge: {}", purged.error().message);
    } else if (*purged > 0) {
      spdlog::info("attachment purge: {} removed", *purged);
    }
    timer.expires_after(kBlobPurgeInterval);
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) break;
  }
}

// One instance of each configured connector, made by its type.
core::Status register_connectors(const core::Config& config, const core::ConnectorTypes& types,
                                 core::ConnectorRegistry& registry,
                                 core::ConnectorServices services) {
  for (const auto& instance : config.connectors) {
    const auto* type = core::find_type(types, instance->type);
    if (type != nullptr && type->direct_chats) {
      services.direct_chat_instances.push_back(instance.get());
    }
  }
  for (const auto& instance : config.connectors) {
    // The configuration was parsed with these types, so every instance has its type.
    const auto* type = core::find_type(types, instance->type);
    auto connector = type->create(*instance, services);
    if (!connector) {
      return core::Error::permanent("connector " + instance->name + ": " +
                                    connector.error().message);
    }
    if (auto st = registry.add(std::move(*connector)); !st) return st.error();
  }
  return {};
}

// Runs one connector until shutdown, restarting it with backoff when it fails.
awaitable<void> supervise(core::ConnectorPtr connector, core::EventSink& sink,
                          core::MessageMap& messages, core::DirectChats& direct_chats,
                          core::PortalLinks& portal_links, asio::any_io_executor compute,
                          const bool& stopping) {
  auto ex = co_await asio::this_coro::executor;
  core::ConnectorContext ctx{ex, sink, messages, &direct_chats, compute, &portal_links};
  const core::BackoffPolicy backoff{std::chrono::milliseconds(1000),
                                    std::chrono::milliseconds(60000)};
  int failures = 0;
  asio::steady_timer timer(ex);
  while (!stopping) {
    try {
      co_await connector->run(ctx);
      failures = 0;
    } catch (const boost::system::system_error& e) {
      if (e.code() == asio::error::operation_aborted || stopping) break;
      spdlog::error("connector {} failed: {}", connector->name(), e.what());
    } catch (const std::exception& e) {
      spdlog::error("connector {} failed: {}", connector->name(), e.what());
    }
    if (stopping) break;
    timer.expires_after(core::backoff_delay(backoff, ++failures, 0.5));
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) break;
  }
}

}  // namespace

int run_migrate(const core::Config& config) {
  auto database = open_database(config, kDatabaseWait);
  if (!database) {
    spdlog::error("database: {}", database.error().message);
    return kExitFailure;
  }
  core::pg::DbExecutor db(database->conninfo, 1);
  auto report = apply_migrations(db, kDatabaseWait);
  db.stop();
  if (!report) {
    spdlog::error("migration failed: {}", report.error().message);
    return kExitFailure;
  }
  for (const auto& name : report->applied) spdlog::info("applied migration {}", name);
  spdlog::info("schema is at version {}", report->current_version);
  return kExitOk;
}

int run_bridge(const core::Config& config, const core::ConnectorTypes& types) {
  // Until the event loop watches for them, SIGINT and SIGTERM only ask for a stop, which is
  // looked at between the start-up steps: killed there, the process would leave its embedded
  // database running.
  struct sigaction ask {};
  ask.sa_handler = [](int) { g_stop_asked = 1; };
  sigemptyset(&ask.sa_mask);
  ::sigaction(SIGINT, &ask, nullptr);
  ::sigaction(SIGTERM, &ask, nullptr);

  auto database = open_database(config, kDatabaseWait);
  if (!database) {
    spdlog::error("database: {}", database.error().message);
    return kExitFailure;
  }
  core::pg::DbExecutor db(database->conninfo, config.database.pool_size);
  const auto stop_before_start = [&]() {
    spdlog::info("stop asked for during start-up: stopping");
    db.stop();
    if (database->embedded) {
      if (auto st = database->embedded->stop(); !st) spdlog::warn("{}", st.error().message);
    }
    return kExitOk;
  };
  if (g_stop_asked) return stop_before_start();
  if (auto report = apply_migrations(db, kDatabaseWait); !report) {
    spdlog::error("migration failed: {}", report.error().message);
    db.stop();
    if (database->embedded) (void)database->embedded->stop();
    return kExitFailure;
  } else {
    for (const auto& name : report->applied) spdlog::info("applied migration {}", name);
  }
  if (g_stop_asked) return stop_before_start();

  asio::io_context io(1);
  // CPU-bound work of the connectors (parsing a backlog of mail) runs here, next to the one
  // I/O thread: a thread per core, at most four.
  asio::thread_pool compute(std::clamp(std::thread::hardware_concurrency(), 1U, 4U));
  core::MetricsRegistry metrics;
  core::ConnectorRegistry registry;
  core::pg::PgBridgeStore bridges(db);
  core::pg::PgEventStore events(db);
  core::pg::PgCheckpointStore checkpoints(db);
  core::pg::PgBlobStore blobs(db);
  core::pg::PgInboundLedger ledger(db);
  core::pg::PgConversationStateStore conversations(db);
  core::pg::PgPuppetStore puppets(db);
  if (auto st = register_connectors(
          config, types, registry,
          core::ConnectorServices{
              io.get_executor(), checkpoints, blobs, ledger, conversations, puppets, metrics, {}});
      !st) {
    spdlog::error("{}", st.error().message);
    return kExitUsage;
  }

  core::DeliveryPolicy policy;
  policy.max_attempts = config.delivery.max_attempts;
  policy.backoff = {config.delivery.backoff_initial, config.delivery.backoff_max};
  core::DeliveryScheduler scheduler(io.get_executor(), events, registry, metrics, policy);
  core::Router router(events, registry, metrics, [&scheduler] { scheduler.notify(); });
  core::DirectChatLinker direct_chats(bridges, registry);
  core::PortalLinker portal_links(bridges, registry, io.get_executor(),
                                  [&router](std::int64_t bridge_id, int messages) {
                                    return router.backfill(bridge_id, messages);
                                  });

  // Ready once the connectors' preflight checks passed and they started, and the schema is
  // current.
  bool serving = false;
  core::AdminApi admin(
      {bridges, events, metrics, config.admin.tokens,
       [&db, &serving]() -> awaitable<bool> {
         if (!serving) co_return false;
         auto current = co_await db.run([](pqxx::connection& c) {
           return core::pg::migrations_current(c, core::pg::builtin_migrations());
         });
         co_return current&&* current;
       },
       [&scheduler] { scheduler.notify(); },
       [&portal_links](const core::Link& link) { portal_links.announce_linked(link); },
       [&portal_links](const core::Link& link) { portal_links.announce_unlinked(link); },
       [&registry](std::string_view name) { return registry.find(name) != nullptr; },
       [&router](std::int64_t bridge_id, int messages) {
         return router.backfill(bridge_id, messages);
       }});
  // Connector webhooks (a homeserver's transactions, ...) to the instance that claims them;
  // the rest is the admin API.
  core::HttpServerOptions http_options;
  http_options.host = config.http.host;
  http_options.port = config.http.port;
  http_options.max_body_bytes = config.http.max_body_bytes;
  http_options.body_limit_for = [&registry](std::string_view path) {
    return registry.http_body_limit(path);
  };
  core::HttpServer http(
      io.get_executor(), http_options,
      [&admin, &registry](const core::HttpRequest& req) -> awaitable<core::HttpResponse> {
        if (auto connector = registry.http_handler(req)) {
          co_return co_await connector->handle_http(req);
        }
        co_return co_await admin.handle(req);
      });
  auto port = http.listen();
  if (!port) {
    spdlog::error("http: {}", port.error().message);
    return kExitFailure;
  }
  spdlog::info("coi-bridge {} listening on http://{}:{}", COIBRIDGE_VERSION, config.http.host,
               *port);

  bool stopping = false;
  bool scheduler_done = false;
  bool http_done = false;
  asio::co_spawn(io, http.run(), [&](std::exception_ptr) { http_done = true; });

  // From here the event loop takes the signals. One during the preflight checks cancels them
  // and ends start-up cleanly.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::optional<int> signal_in_preflight;
  asio::cancellation_signal preflight_cancel;
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    signal_in_preflight = signo;
    preflight_cancel.emit(asio::cancellation_type::terminal);
  });
  if (g_stop_asked) {
    signal_in_preflight = SIGTERM;
    preflight_cancel.emit(asio::cancellation_type::terminal);
  }

  // Preflight checks run with the HTTP server up (a homeserver pings back); one failing ends
  // start-up before any connector starts.
  bool preflight_done = false;
  std::string preflight_error;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        for (const auto& connector : registry.all()) {
          if (signal_in_preflight) break;
          auto st = co_await connector->preflight();
          if (!st) {
            preflight_error =
                "connector " + std::string(connector->name()) + ": " + st.error().message;
            break;
          }
        }
      },
      asio::bind_cancellation_slot(preflight_cancel.slot(),
                                   [&](std::exception_ptr) { preflight_done = true; }));
  while (!preflight_done && !io.stopped()) io.run_one();
  if (signal_in_preflight || !preflight_error.empty()) {
    if (signal_in_preflight) {
      spdlog::info("signal {} during the preflight checks: stopping", *signal_in_preflight);
    } else {
      spdlog::error("{}", preflight_error);
    }
    signals.cancel();
    http.stop();
    io.run();
    db.stop();
    if (database->embedded) (void)database->embedded->stop();
    return signal_in_preflight ? kExitOk : kExitFailure;
  }

  std::list<asio::cancellation_signal> connector_cancel;
  for (const auto& connector : registry.all()) {
    auto& signal = connector_cancel.emplace_back();
    asio::co_spawn(asio::make_strand(io),
                   supervise(connector, router, router, direct_chats, portal_links,
                             compute.get_executor(), stopping),
                   asio::bind_cancellation_slot(signal.slot(), asio::detached));
    spdlog::info("connector {} started", connector->name());
  }
  serving = true;
  asio::cancellation_signal purge_cancel;
  asio::co_spawn(io, purge_expired(blobs, events, stopping),
                 asio::bind_cancellation_slot(purge_cancel.slot(), asio::detached));
  asio::co_spawn(io, scheduler.run(), [&](std::exception_ptr) { scheduler_done = true; });

  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", signo);
    stopping = true;
    http.stop();
    scheduler.stop();
    for (auto& s : connector_cancel) s.emit(asio::cancellation_type::terminal);
    purge_cancel.emit(asio::cancellation_type::terminal);
    // Let the deliveries and requests in flight finish, then leave the loop.
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          asio::steady_timer t(io);
          while (!scheduler_done || !http_done) {
            t.expires_after(std::chrono::milliseconds(20));
            co_await t.async_wait(kTuple);
          }
          io.stop();
        },
        asio::detached);
  });

  io.run();
  compute.join();
  db.stop();
  if (database->embedded) {
    if (auto st = database->embedded->stop(); !st) spdlog::warn("{}", st.error().message);
  }
  spdlog::info("coi-bridge stopped");
  return kExitOk;
}

}  // namespace coibridge::app
