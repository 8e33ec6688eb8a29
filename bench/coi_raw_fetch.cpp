// coi-raw-fetch: the baseline of the mailbox drain benchmark (bench/coi-drain).
//
// Reads every message of one mailbox through the COI connector's own IMAP client
// (ImapSession::fetch_from, batches of the connector's size) and discards the bytes, so the
// drain rate of the connector can be compared with what the same IMAP code does when nothing
// else happens per message. With --parse it also does the connector's per-message CPU work
// that needs no database (MIME parse, chat mapping, the event's JSON), which splits the
// connector's time per message into IMAP, parsing and publishing.
//
// Output: a human-readable summary on stderr and one JSON object on stdout, for the script.
// Exit status: 0 ok, 1 IMAP failure, 2 bad usage.

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "connectors/coi/coi_addresses.hpp"
#include "connectors/coi/imap/imap_session.hpp"
#include "connectors/coi/mail_mapping.hpp"
#include "connectors/coi/mime/mime_parse.hpp"
#include "core/model/event_json.hpp"

namespace {

namespace asio = boost::asio;
namespace imap = coibridge::connectors::coi::imap;
namespace coi = coibridge::connectors::coi;
using Clock = std::chrono::steady_clock;

struct Options {
  imap::ImapEndpoint ep;
  std::string mailbox = "INBOX";
  // kFetchBatch in connectors/coi/coi_connector.cpp; bench/coi-drain passes the value it
  // reads from there, so the two cannot drift apart silently.
  std::size_t batch = 50;
  bool parse = false;
  std::string address;  // the account's own address, for --parse (the mapping skips own mail)
};

struct Figures {
  double connect_s = 0;
  double select_s = 0;
  double fetch_s = 0;
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t batches = 0;
  std::uint64_t events = 0;      // --parse: mails the mapping turns into an event
  std::uint64_t skipped = 0;     // --parse: mails it does not (or cannot parse)
  std::uint64_t json_bytes = 0;  // --parse: size of the events as stored
  std::uint32_t exists = 0;
  std::string error;
};

[[noreturn]] void usage(const char* why) {
  std::cerr << "coi-raw-fetch: " << why << "\n"
            << "usage: coi-raw-fetch --host H --port P --user U --password PW [--tls "
               "none|starttls|implicit]\n"
               "                     [--ca-file PEM] [--mailbox INBOX] [--batch 50] [--parse "
               "--address A]\n";
  std::exit(2);
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

asio::awaitable<void> drain(const Options& opt, Figures& fig) {
  auto t0 = Clock::now();
  auto session = co_await imap::ImapSession::connect(co_await asio::this_coro::executor, opt.ep);
  if (!session) {
    fig.error = "connect: " + session.error().message;
    co_return;
  }
  fig.connect_s = seconds_since(t0);
  auto& s = **session;

  // SELECT is timed apart: the first one after mail was written straight into the Maildir
  // makes Dovecot index it, which is no part of a steady-state fetch rate.
  t0 = Clock::now();
  auto state = co_await s.select(opt.mailbox);
  if (!state) {
    fig.error = "select: " + state.error().message;
    co_return;
  }
  fig.select_s = seconds_since(t0);
  fig.exists = state->exists;

  const coi::AddressBook addresses(opt.address.empty() ? std::string("bench@invalid")
                                                       : opt.address);
  const coi::MappingContext mapping{"bench", addresses};

  // The connector's loop (MailboxReader::watch) without publish and checkpoint: batches from
  // the last UID + 1 until one comes back short.
  std::uint32_t next = 1;
  t0 = Clock::now();
  for (;;) {
    auto batch = co_await s.fetch_from(next, opt.batch);
    if (!batch) {
      fig.error = "fetch: " + batch.error().message;
      co_return;
    }
    ++fig.batches;
    for (const auto& m : *batch) {
      ++fig.messages;
      fig.bytes += m.body.size();
      next = m.uid + 1;
      if (!opt.parse) continue;
      auto parsed = coi::mime::parse_mail(m.body, {opt.ep.max_message_bytes});
      if (!parsed) {
        ++fig.skipped;
        continue;
      }
      auto mapped = coi::event_from_mail(*parsed, mapping);
      if (auto* event = std::get_if<coibridge::core::Event>(&mapped)) {
        // The router stores the event as JSON; the serialisation is part of its cost.
        fig.json_bytes += coibridge::core::to_json(*event).dump().size();
        ++fig.events;
      } else {
        ++fig.skipped;
      }
    }
    if (batch->size() < opt.batch) break;
  }
  fig.fetch_s = seconds_since(t0);
  (void)co_await s.logout();
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  opt.ep.tls = imap::TlsMode::kNone;
  opt.ep.port = 143;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage("missing value after an option");
      return argv[++i];
    };
    if (a == "--host") {
      opt.ep.host = value();
    } else if (a == "--port") {
      opt.ep.port = static_cast<std::uint16_t>(std::stoul(value()));
    } else if (a == "--user") {
      opt.ep.username = value();
    } else if (a == "--password") {
      opt.ep.password = value();
    } else if (a == "--tls") {
      const auto t = value();
      if (t == "none") {
        opt.ep.tls = imap::TlsMode::kNone;
      } else if (t == "starttls") {
        opt.ep.tls = imap::TlsMode::kStartTls;
      } else if (t == "implicit") {
        opt.ep.tls = imap::TlsMode::kImplicit;
      } else {
        usage("--tls is none, starttls or implicit");
      }
    } else if (a == "--ca-file") {
      opt.ep.ca_file = value();
    } else if (a == "--mailbox") {
      opt.mailbox = value();
    } else if (a == "--batch") {
      opt.batch = std::stoul(value());
      if (opt.batch == 0) usage("--batch must be at least 1");
    } else if (a == "--parse") {
      opt.parse = true;
    } else if (a == "--address") {
      opt.address = value();
    } else {
      usage("unknown argument");
    }
  }
  if (opt.ep.host.empty() || opt.ep.username.empty()) usage("--host and --user are required");
  if (opt.parse && opt.address.find('@') == std::string::npos) usage("--parse needs --address");
  // The connector's default (config/coi-bridge.example.yaml, max_message_bytes).
  opt.ep.max_message_bytes = 25 * 1024 * 1024;
  spdlog::set_level(spdlog::level::warn);

  Figures fig;
  asio::io_context io(1);
  asio::co_spawn(io, drain(opt, fig), asio::detached);
  io.run();

  const double rate = fig.fetch_s > 0 ? fig.messages / fig.fetch_s : 0;
  const double byte_rate = fig.fetch_s > 0 ? fig.bytes / fig.fetch_s : 0;
  nlohmann::json out = {
      {"ok", fig.error.empty()},    {"error", fig.error},       {"mailbox", opt.mailbox},
      {"exists", fig.exists},       {"batch", opt.batch},       {"parse", opt.parse},
      {"connect_s", fig.connect_s}, {"select_s", fig.select_s}, {"fetch_s", fig.fetch_s},
      {"messages", fig.messages},   {"bytes", fig.bytes},       {"batches", fig.batches},
      {"events", fig.events},       {"skipped", fig.skipped},   {"json_bytes", fig.json_bytes},
      {"messages_per_s", rate},     {"bytes_per_s", byte_rate},
  };
  std::cout << out.dump() << std::endl;
  std::fprintf(stderr,
               "coi-raw-fetch%s: %llu messages, %.1f MB in %.3f s (%llu batches of <= %zu): %.0f "
               "msg/s, %.2f MB/s"
               " (connect %.3f s, SELECT %.3f s)\n",
               opt.parse ? " --parse" : "", static_cast<unsigned long long>(fig.messages),
               fig.bytes / 1e6, fig.fetch_s, static_cast<unsigned long long>(fig.batches),
               opt.batch, rate, byte_rate / 1e6, fig.connect_s, fig.select_s);
  if (!fig.error.empty()) {
    std::fprintf(stderr, "coi-raw-fetch: %s\n", fig.error.c_str());
    return 1;
  }
  return 0;
}
