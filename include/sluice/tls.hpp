// tls: sluice's HTTPS. The certificate chain and key of `tls:` are loaded into one OpenSSL
// context, shared by every connection accepted under that config; a reload (SIGHUP) loads them
// again, so a renewed certificate is served to new connections without a restart.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>

namespace sluice {

// TLS 1.2 and 1.3 only; for 1.2, forward-secret AEAD suites only (Mozilla's "intermediate"
// profile without DHE). Throws ConfigError naming the file and what is wrong with it: unreadable
// (with the reason), not PEM, an encrypted key, or a key that does not match the certificate.
std::shared_ptr<boost::asio::ssl::context> load_tls_context(const std::string& cert_path, const std::string& key_path);

}  // namespace sluice
