// The shared TLS client set-up against a TLS server in this process on 127.0.0.1, with a
// self-signed certificate made here: verification refuses what it must and accepts the
// certificate once it is a trust anchor.

#include "core/net/tls_client.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

namespace coibridge::core {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

struct FreeKey {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct FreeCert {
  void operator()(X509* c) const { X509_free(c); }
};

// A self-signed certificate for "localhost" and 127.0.0.1, like `openssl req -x509` makes.
struct TestCert {
  std::unique_ptr<EVP_PKEY, FreeKey> key;
  std::unique_ptr<X509, FreeCert> cert;
  std::filesystem::path pem;

  TestCert() {
    key.reset(EVP_EC_gen("P-256"));
    cert.reset(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("coi-bridge test"), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), name);
    X509_set_pubkey(cert.get(), key.get());
    add_extension(NID_basic_constraints, "critical,CA:TRUE");
    add_extension(NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    X509_sign(cert.get(), key.get(), EVP_sha256());

    pem = std::filesystem::temp_directory_path() /
          ("coibridge-tls-test-" + std::to_string(::getpid()) + ".pem");
    FILE* f = std::fopen(pem.c_str(), "w");
    PEM_write_X509(f, cert.get());
    std::fclose(f);
  }
  ~TestCert() { std::filesystem::remove(pem); }

  void add_extension(int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
};

TlsClientOptions trusting(const std::string& ca_file) {
  TlsClientOptions o;
  o.ca_file = ca_file;
  return o;
}

struct Outcome {
  Status setup;  // configure_tls_client and prepare_tls_client
  bool handshake_ok = false;
  std::string refusal;  // certificate_refusal after a failed handshake
};

class TlsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ctx_.set_options(ssl::context::default_workarounds);
    ASSERT_EQ(SSL_CTX_use_certificate(server_ctx_.native_handle(), cert_.cert.get()), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey(server_ctx_.native_handle(), cert_.key.get()), 1);
  }

  // One connection to a one-shot TLS server, `name` the server the client means to reach.
  Outcome connect(const TlsClientOptions& options, const std::string& name) {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = acceptor.local_endpoint().port();
    asio::co_spawn(io, serve(acceptor), asio::detached);
    Outcome out;
    asio::co_spawn(io, client(options, name, port, out), asio::detached);
    io.run();
    return out;
  }

  asio::awaitable<void> serve(tcp::acceptor& acceptor) {
    auto [aec, socket] = co_await acceptor.async_accept(kAwait);
    if (aec) co_return;
    ssl::stream<tcp::socket> stream(std::move(socket), server_ctx_);
    co_await stream.async_handshake(ssl::stream_base::server, kAwait);
  }

  static asio::awaitable<void> client(TlsClientOptions options, std::string name,
                                      std::uint16_t port, Outcome& out) {
    const auto ex = co_await asio::this_coro::executor;
    ssl::context ctx(ssl::context::tls_client);
    out.setup = configure_tls_client(ctx, options);
    ssl::stream<tcp::socket> stream(ex, ctx);
    co_await stream.next_layer().async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kAwait);
    if (out.setup)
      out.setup = prepare_tls_client(stream.native_handle(), name, options.verify_peer);
    if (!out.setup) co_return;  // the server sees the socket close
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::client, kAwait);
    out.handshake_ok = !ec;
    if (ec) out.refusal = certificate_refusal(stream.native_handle(), name);
  }

  TestCert cert_;
  ssl::context server_ctx_{ssl::context::tls_server};
};

TEST_F(TlsClientTest, SelfSignedCertificateIsRefusedByDefault) {
  TlsClientOptions options;  // the system's CA certificates, verification on
  const auto out = connect(options, "localhost");
  ASSERT_TRUE(out.setup.ok()) << out.setup.error().message;
  EXPECT_FALSE(out.handshake_ok);
  EXPECT_NE(out.refusal.find("self-signed"), std::string::npos) << out.refusal;
}

TEST_F(TlsClientTest, CertificateFromCaFileIsAccepted) {
  const auto options = trusting(cert_.pem.string());
  const auto out = connect(options, "localhost");
  ASSERT_TRUE(out.setup.ok()) << out.setup.error().message;
  EXPECT_TRUE(out.handshake_ok) << out.refusal;
}

TEST_F(TlsClientTest, AddressLiteralIsCheckedAgainstIpAddressNames) {
  const auto options = trusting(cert_.pem.string());
  EXPECT_TRUE(connect(options, "127.0.0.1").handshake_ok);
  const auto other = connect(options, "127.0.0.2");
  EXPECT_FALSE(other.handshake_ok);
  EXPECT_NE(other.refusal.find("not valid for the name \"127.0.0.2\""), std::string::npos)
      << other.refusal;
}

TEST_F(TlsClientTest, TrustedCertificateForAnotherNameIsRefused) {
  const auto options = trusting(cert_.pem.string());
  const auto out = connect(options, "mail.example.net");
  EXPECT_FALSE(out.handshake_ok);
  EXPECT_NE(out.refusal.find("not valid for the name \"mail.example.net\""), std::string::npos)
      << out.refusal;
}

TEST_F(TlsClientTest, VerificationOffAcceptsAnyCertificate) {
  TlsClientOptions options;
  options.verify_peer = false;
  options.label = "test";
  const auto out = connect(options, "mail.example.net");
  ASSERT_TRUE(out.setup.ok());
  EXPECT_TRUE(out.handshake_ok);
}

TEST(TlsClientContext, UnreadableCaFileIsAConfigurationError) {
  ssl::context ctx(ssl::context::tls_client);
  auto s = configure_tls_client(ctx, trusting("/nonexistent/ca.pem"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(s.error().field, "ca_file");
}

TEST(TlsClientContext, OldProtocolVersionsAreNotOffered) {
  ssl::context ctx(ssl::context::tls_client);
  ASSERT_TRUE(configure_tls_client(ctx, {}).ok());
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx.native_handle()), TLS1_2_VERSION);
}

}  // namespace
}  // namespace coibridge::core
