// tls: reads tls.cert and tls.key into the server's OpenSSL context.
#include "sluice/tls.hpp"

#include "config_reader.hpp"

#include "sluice/c_handle.hpp"
#include "sluice/config.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace sluice {

namespace ssl = boost::asio::ssl;

namespace {

// A PEM chain is a few kilobytes; anything this big is the wrong file.
constexpr std::size_t max_pem_file_bytes = 1024 * 1024;

constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string read_pem_file(const std::string& path, std::string_view key) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        const int error = errno;
        throw ConfigError(fmt::format("{}: cannot read {}: {}{}", key, path, std::strerror(error),
                                      error == EACCES ? " (sluice runs as its own user: see README, HTTPS)" : ""));
    }
    std::string text(max_pem_file_bytes + 1, '\0');
    file.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(file.gcount()));
    if (text.size() > max_pem_file_bytes) throw ConfigError(fmt::format("{}: {} is over 1 MiB: not a PEM file", key, path));
    return text;
}

}  // namespace

namespace config_reader {

void read_tls(const ConfigValue& value, TlsConfig& tls) {
    read_mapping(value, {
        setting("cert", tls.cert, [](std::string_view text) { return std::string(text); }),
        setting("key", tls.key, [](std::string_view text) { return std::string(text); }),
    });
    if (tls.cert.empty() || tls.key.empty()) {
        value.fail("needs both cert and key: PEM files (`sluice cert` makes a pair for this machine)");
    }
    try {
        tls.context = load_tls_context(tls.cert, tls.key);
    } catch (const ConfigError& error) {
        value.fail(error.what());
    }
}

}  // namespace config_reader

std::shared_ptr<ssl::context> load_tls_context(const std::string& cert_path, const std::string& key_path) {
    const auto cert = read_pem_file(cert_path, "tls.cert");
    const auto key = read_pem_file(key_path, "tls.key");
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = context->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_cipher_list(native, tls12_ciphers);
    // An idle connection (a keep-alive client, a page between tokens) gives its TLS buffers back.
    SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);

    boost::system::error_code ec;
    context->use_certificate_chain(boost::asio::buffer(cert), ec);
    if (ec) throw ConfigError(fmt::format("tls.cert: {} holds no usable PEM certificate ({})", cert_path, ec.message()));
    // The key is read apart from the context, so that an unreadable key and a key of another
    // certificate get different messages.
    const Owned<BIO, BIO_free> bio(BIO_new_mem_buf(key.data(), static_cast<int>(key.size())));
    const Owned<EVP_PKEY, EVP_PKEY_free> private_key(
        // No passphrase callback that could prompt: an encrypted key fails here, on no terminal.
        PEM_read_bio_PrivateKey(bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
    if (!private_key) {
        ERR_clear_error();
        throw ConfigError(fmt::format("tls.key: {} holds no usable PEM private key (a key with a passphrase is not supported)",
                                      key_path));
    }
    if (SSL_CTX_use_PrivateKey(native, private_key.get()) != 1 || SSL_CTX_check_private_key(native) != 1) {
        ERR_clear_error();
        throw ConfigError(fmt::format("tls.key: {} is not the key of the certificate in {}", key_path, cert_path));
    }
    return context;
}

}  // namespace sluice
