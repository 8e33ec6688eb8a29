#include "core/net/tls_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>

namespace coibridge::core {
namespace {

namespace ssl = boost::asio::ssl;

bool is_ip_literal(std::string_view name) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(name, ec);
  return !ec;
}

}  // namespace

Status configure_tls_client(ssl::context& ctx, const TlsClientOptions& options) {
  boost::system::error_code ec;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                  ec);
  if (ec || SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION) != 1) {
    return Error::internal("cannot require TLS 1.2 or newer");
  }
  if (!options.verify_peer) {
    spdlog::warn(
        "{}: TLS CERTIFICATE VERIFICATION IS OFF (verify_peer = false): anyone on the path can "
        "read and change this connection, including passwords",
        options.label);
    ctx.set_verify_mode(ssl::verify_none, ec);
    return {};
  }
  ctx.set_verify_mode(ssl::verify_peer, ec);
  if (options.ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
  } else {
    ctx.load_verify_file(options.ca_file, ec);
  }
  if (ec) {
    return Error::invalid(
        "ca_file", "cannot load the CA certificates " +
                       (options.ca_file.empty() ? std::string("of the system") : options.ca_file) +
                       ": " + ec.message());
  }
  return {};
}

Status prepare_tls_client(SSL* ssl, std::string_view server_name, bool verify_peer) {
  const std::string name(server_name);
  // Set on the SSL object too: it may come from a context configured elsewhere.
  if (SSL_set_min_proto_version(ssl, TLS1_2_VERSION) != 1) {
    return Error::internal("cannot require TLS 1.2 or newer");
  }
  const bool literal = is_ip_literal(name);
  if (!literal && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
    return Error::invalid("tls_server_name", "cannot use TLS server name " + name);
  }
  if (!verify_peer) {
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    return {};
  }
  SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
  // An address literal must be in an iPAddress subjectAltName, a host name in a dNSName
  // (RFC 6125 §6.4, §6.2.1); OpenSSL matches wildcards only in the left-most label.
  const int named = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str())
                            : SSL_set1_host(ssl, name.c_str());
  if (named != 1) return Error::invalid("tls_server_name", "cannot verify TLS server name " + name);
  return {};
}

std::string certificate_refusal(const SSL* ssl, std::string_view server_name) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify == X509_V_OK) return {};
  if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    return "the certificate is not valid for the name \"" + std::string(server_name) + "\"";
  }
  return X509_verify_cert_error_string(verify);
}

}  // namespace coibridge::core
