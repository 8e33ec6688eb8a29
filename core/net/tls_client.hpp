#pragma once
// The TLS client side every outgoing connection shares (IMAP, SMTP submission, HTTPS): one
// place decides protocol versions, trust anchors and how a server's certificate is checked.
// Include only from .cpp files: it brings in Asio's SSL headers.

#include <openssl/types.h>

#include <boost/asio/ssl/context.hpp>
#include <string>
#include <string_view>

#include "core/model/result.hpp"

namespace coibridge::core {

struct TlsClientOptions {
  std::string ca_file;      // PEM trust anchors; empty: the system's CA certificates
  bool verify_peer = true;  // false only for tests; logged loudly
  std::string label;        // who connects ("imap mail.example.org:993"), for the log
};

// Configures a context made with ssl::context::tls_client: TLS 1.2 or newer only (RFC 8996
// retired 1.0 and 1.1; RFC 8314 §4.1), and unless verification is off, peers verified
// against options.ca_file or the system store. kInvalidArgument (field "ca_file") when the
// trust anchors cannot be loaded.
Status configure_tls_client(boost::asio::ssl::context& ctx, const TlsClientOptions& options);

// Prepares one connection's SSL object before its handshake, for the server meant by
// `server_name` (a host name or an address literal): SNI for host names (RFC 6066 §3 allows
// no literals there) and, with verification on, the certificate must name that server
// (RFC 6125, RFC 9110 §4.3.4): OpenSSL checks it during the handshake and a mismatch fails
// it with X509_V_ERR_HOSTNAME_MISMATCH.
Status prepare_tls_client(SSL* ssl, std::string_view server_name, bool verify_peer);

// After a failed handshake with verification on: why the peer's certificate was refused (its
// chain, or that it does not name `server_name`), or an empty string when the failure was
// something else.
std::string certificate_refusal(const SSL* ssl, std::string_view server_name);

}  // namespace coibridge::core
