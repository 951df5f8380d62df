// access_control: API keys, their routes and models, browser sessions and origins.
#include "sluice/access_control.hpp"

#include "sluice/ollama_api.hpp"
#include "sluice/router.hpp"

#include <boost/beast/core/string.hpp>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <span>
#include <stdexcept>

namespace sluice {

namespace {

// No real key is longer; a longer "key" is refused before any hashing.
constexpr std::size_t max_key_bytes = 512;

template <std::size_t N>
std::array<unsigned char, N> random_bytes() {
    std::array<unsigned char, N> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(N)) != 1) throw std::runtime_error("no random numbers (OpenSSL RAND_bytes)");
    return bytes;
}

std::string hex(const unsigned char* bytes, std::size_t size) {
    constexpr std::string_view digits = "0123456789abcdef";
    std::string text;
    text.reserve(size * 2);
    for (std::size_t i = 0; i < size; ++i) {
        text += digits[bytes[i] >> 4];
        text += digits[bytes[i] & 0xF];
    }
    return text;
}

std::array<unsigned char, 32> salted_digest(const std::array<unsigned char, 16>& salt, std::string_view key) {
    std::array<unsigned char, 16 + max_key_bytes> input{};
    std::copy(salt.begin(), salt.end(), input.begin());
    std::copy(key.begin(), key.end(), input.begin() + salt.size());
    std::array<unsigned char, 32> digest{};
    SHA256(input.data(), salt.size() + key.size(), digest.data());
    return digest;
}

std::string token_hash(std::string_view token) {
    std::array<unsigned char, 32> digest{};
    SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
    return hex(digest.data(), digest.size());
}

bool path_matches(std::string_view pattern, std::string_view path) {
    if (pattern.ends_with('*')) return path.starts_with(pattern.substr(0, pattern.size() - 1));
    return path == pattern;
}

// A refusal quotes at most this much of a model name the client chose (whole UTF-8 characters).
std::string_view shown_model(std::string_view model) {
    constexpr std::size_t max_shown_bytes = 128;
    if (model.size() <= max_shown_bytes) return model;
    std::size_t end = max_shown_bytes;
    while (end > 0 && (static_cast<unsigned char>(model[end]) & 0xC0) == 0x80) --end;
    return model.substr(0, end);
}

}  // namespace

const ApiKey* key_named(const AuthConfig& auth, std::string_view name) {
    const auto key = std::find_if(auth.keys.begin(), auth.keys.end(), [&](const ApiKey& k) { return k.name == name; });
    return key == auth.keys.end() ? nullptr : &*key;
}

std::string generate_api_key() {
    const auto bytes = random_bytes<32>();
    return "sk-sluice-" + hex(bytes.data(), bytes.size());
}

std::string hash_api_key(std::string_view key) {
    if (key.size() > max_key_bytes) throw std::invalid_argument(fmt::format("a key is at most {} bytes", max_key_bytes));
    const auto salt = random_bytes<16>();
    const auto digest = salted_digest(salt, key);
    return "sha256:" + hex(salt.data(), salt.size()) + ":" + hex(digest.data(), digest.size());
}

const ApiKey* find_api_key(const AuthConfig& auth, std::string_view presented) {
    if (presented.empty() || presented.size() > max_key_bytes) return nullptr;
    const ApiKey* found = nullptr;
    for (const ApiKey& key : auth.keys) {
        const auto digest = salted_digest(key.salt, presented);
        if (CRYPTO_memcmp(digest.data(), key.digest.data(), digest.size()) == 0) found = &key;
    }
    return found;
}

bool key_allows_route(const ApiKey& key, std::string_view path) {
    switch (key.routes) {
    case KeyRoutes::all:
        return true;
    case KeyRoutes::chat: {  // an allow list: routes Ollama adds later are not chat until listed
        const OllamaRoute* route = find_ollama_route(path);
        return route && route->inference;
    }
    case KeyRoutes::listed:
        return std::any_of(key.route_patterns.begin(), key.route_patterns.end(),
                           [&](const std::string& pattern) { return path_matches(pattern, path); });
    }
    return false;
}

bool key_allows_model(const ApiKey& key, std::string_view model) {
    return key.models.empty() || std::any_of(key.models.begin(), key.models.end(), [&](const std::string& pattern) {
               return model_pattern_matches(pattern, model);
           });
}

std::optional<std::string> model_refusal(const ApiKey& key, std::string_view path, std::string_view body,
                                         JsonWorkspace& workspace) {
    if (key.models.empty()) return std::nullopt;
    const auto models = models_named(find_ollama_route(path), path, body, workspace);
    if (!models) {
        return fmt::format("sluice: key \"{}\" may use only some models, and this request names none sluice can read "
                           "(an uncompressed JSON body with \"model\")", key.name);
    }
    for (const auto& model : *models) {
        if (!key_allows_model(key, model)) {
            return fmt::format("sluice: key \"{}\" may not use model \"{}\"", key.name, shown_model(model));
        }
    }
    return std::nullopt;
}

std::string_view bearer_token(std::string_view authorization) {
    constexpr std::string_view scheme = "bearer ";
    if (authorization.size() <= scheme.size() || !boost::beast::iequals(authorization.substr(0, scheme.size()), scheme)) {
        return {};
    }
    auto token = authorization.substr(scheme.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    return token;
}

std::string_view cookie_value(std::string_view cookie_header, std::string_view name) {
    while (!cookie_header.empty()) {
        const auto end = std::min(cookie_header.find(';'), cookie_header.size());
        auto pair = cookie_header.substr(0, end);
        cookie_header.remove_prefix(std::min(end + 1, cookie_header.size()));
        while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
        if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
            return pair.substr(name.size() + 1);
        }
    }
    return {};
}

std::string_view allowed_cross_origin(const CorsConfig& cors, std::string_view origin, std::string_view host) {
    if (origin.empty() || is_same_origin(origin, host) || !origin_allowed(cors, origin, host)) return {};
    return origin;
}

LocalNames LocalNames::of_this_machine() {
    LocalNames names;
    std::array<char, 256> hostname{};
    if (::gethostname(hostname.data(), hostname.size() - 1) == 0) {
        names.hostname = hostname.data();
        for (char& c : names.hostname) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    ifaddrs* interfaces = nullptr;
    if (::getifaddrs(&interfaces) == 0) {
        for (const ifaddrs* i = interfaces; i != nullptr; i = i->ifa_next) {
            if (i->ifa_addr == nullptr) continue;
            if (i->ifa_addr->sa_family == AF_INET) {
                const auto& in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr;
                names.interfaces.emplace_back(boost::asio::ip::address_v4(ntohl(in.s_addr)));
            } else if (i->ifa_addr->sa_family == AF_INET6) {
                boost::asio::ip::address_v6::bytes_type bytes;
                std::memcpy(bytes.data(), &reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr, bytes.size());
                names.interfaces.emplace_back(boost::asio::ip::address_v6(bytes));
            }
        }
        ::freeifaddrs(interfaces);
    }
    return names;
}

bool LocalNames::contains(std::string_view host_header) const {
    // Without the port: "[::1]:8434" -> "::1", "box.local:8434" -> "box.local".
    std::string_view host = host_header;
    if (host.starts_with('[')) {
        host = host.substr(1, host.find(']') - 1);
    } else if (host.find(':') == host.rfind(':')) {
        host = host.substr(0, host.find(':'));
    }
    std::string name(host);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name.ends_with('.')) name.pop_back();
    if (name.empty() || name == "localhost" || name == hostname) return true;
    for (const std::string_view suffix : {".localhost", ".local", ".internal"}) {
        if (name.ends_with(suffix)) return true;
    }
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(name, ec);
    if (ec) return false;
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
    }
    if (address.is_loopback() || address.is_unspecified()) return true;
    if (address.is_v4()) {
        const auto bytes = address.to_v4().to_bytes();
        if (bytes[0] == 10 || (bytes[0] == 172 && (bytes[1] & 0xF0) == 16) || (bytes[0] == 192 && bytes[1] == 168)) return true;
    } else if ((address.to_v6().to_bytes()[0] & 0xFE) == 0xFC) {
        return true;  // fc00::/7, unique local
    }
    return std::find(interfaces.begin(), interfaces.end(), address) != interfaces.end();
}

bool origin_allowed(const CorsConfig& cors, std::string_view origin, std::string_view host) {
    if (is_same_origin(origin, host)) return true;
    if (origin.ends_with('/')) origin.remove_suffix(1);
    return std::any_of(cors.allowed_origins.begin(), cors.allowed_origins.end(),
                       [&](const std::string& allowed) { return boost::beast::iequals(allowed, origin); });
}

namespace {

constexpr std::string_view session_version = "1";

std::int64_t unix_seconds_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::array<unsigned char, 32> hmac_sha256(std::span<const unsigned char> key, std::string_view data) {
    std::array<unsigned char, 32> mac{};
    unsigned int size = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
              data.size(), mac.data(), &size)) {
        throw std::runtime_error("HMAC-SHA256 failed (OpenSSL)");
    }
    return mac;
}

// The token's fields ("1.<expiry>.<nonce>") and its key's name, signed with the key derived from
// `secret` and bound to the key's hash: a key changed in the config no longer matches.
std::string session_signature(std::string_view secret, std::string_view fields, const ApiKey& key) {
    const auto derived = hmac_sha256({reinterpret_cast<const unsigned char*>(secret.data()), secret.size()},
                                     "sluice browser session v1");
    std::string signed_text = fmt::format("{}.{}", fields, key.name);
    signed_text += '\0';
    signed_text.append(reinterpret_cast<const char*>(key.digest.data()), key.digest.size());
    const auto mac = hmac_sha256(derived, signed_text);
    return hex(mac.data(), mac.size());
}

struct SessionToken {
    std::string_view fields;  // "1.<expiry>.<nonce>"
    std::int64_t expiry = 0;
    std::string_view signature;
    std::string_view name;
};

std::optional<SessionToken> parse_session_token(std::string_view token) {
    std::array<std::string_view, 4> parts;  // version, expiry, nonce, signature; the name is the rest
    std::string_view rest = token;
    for (auto& part : parts) {
        const auto dot = rest.find('.');
        if (dot == std::string_view::npos) return std::nullopt;
        part = rest.substr(0, dot);
        rest.remove_prefix(dot + 1);
    }
    SessionToken parsed;
    const auto [end, error] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), parsed.expiry);
    if (parts[0] != session_version || error != std::errc() || end != parts[1].data() + parts[1].size() ||
        parts[2].size() != 16 || parts[3].size() != 64 || rest.empty()) {
        return std::nullopt;
    }
    parsed.fields = token.substr(0, parts[3].data() - token.data() - 1);
    parsed.signature = parts[3];
    parsed.name = rest;
    return parsed;
}

}  // namespace

BrowserSessions::BrowserSessions() {
    const auto bytes = random_bytes<32>();
    process_secret_ = hex(bytes.data(), bytes.size());
}

std::string BrowserSessions::open(const AuthConfig& auth, const ApiKey& key, std::chrono::milliseconds ttl) const {
    const auto nonce = random_bytes<8>();
    const auto expiry = unix_seconds_now() + std::chrono::duration_cast<std::chrono::seconds>(ttl).count();
    const auto fields = fmt::format("{}.{}.{}", session_version, expiry, hex(nonce.data(), nonce.size()));
    const auto& secret = auth.session_secret.empty() ? process_secret_ : auth.session_secret;
    return fmt::format("{}.{}.{}", fields, session_signature(secret, fields, key), key.name);
}

const ApiKey* BrowserSessions::find(const AuthConfig& auth, std::string_view token) {
    if (token.size() > max_token_bytes) return nullptr;
    const auto parsed = parse_session_token(token);
    if (!parsed || parsed->expiry <= unix_seconds_now()) return nullptr;
    const ApiKey* key = key_named(auth, parsed->name);
    if (!key) return nullptr;
    const auto& secret = auth.session_secret.empty() ? process_secret_ : auth.session_secret;
    const auto expected = session_signature(secret, parsed->fields, *key);
    if (CRYPTO_memcmp(expected.data(), parsed->signature.data(), expected.size()) != 0) return nullptr;
    const std::lock_guard lock(mutex_);
    return logouts_.contains(token_hash(token)) ? nullptr : key;
}

void BrowserSessions::close(std::string_view token) {
    if (token.size() > max_token_bytes) return;
    const auto parsed = parse_session_token(token);
    if (!parsed) return;
    const auto hash = token_hash(token);
    const auto now = unix_seconds_now();
    const std::lock_guard lock(mutex_);
    if (logouts_.size() >= max_logouts) std::erase_if(logouts_, [&](const auto& logout) { return logout.second <= now; });
    if (logouts_.size() >= max_logouts) {
        logouts_.erase(std::min_element(logouts_.begin(), logouts_.end(),
                                        [](const auto& a, const auto& b) { return a.second < b.second; }));
    }
    logouts_.emplace(hash, parsed->expiry);
    for (const auto& [id, watch] : watches_) {
        if (watch.token_hash == hash) watch.on_logout();
    }
}

std::uint64_t BrowserSessions::watch(std::string_view token, std::function<void()> on_logout) {
    auto hash = token_hash(token);
    const std::lock_guard lock(mutex_);
    const auto id = ++next_watch_;
    watches_.emplace(id, Watch{std::move(hash), std::move(on_logout)});
    return id;
}

void BrowserSessions::unwatch(std::uint64_t watch) {
    const std::lock_guard lock(mutex_);
    watches_.erase(watch);
}

Access authorize(const AuthConfig& auth, BrowserSessions& sessions, std::string_view path,
                 std::string_view authorization, std::string_view cookie_header) {
    if (auth.keys.empty()) return {};
    Access access;
    if (const auto token = bearer_token(authorization); !token.empty()) {
        access.key = find_api_key(auth, token);
        if (!access.key) return {401, "sluice: invalid API key", nullptr, {}};
    } else if (const auto session = cookie_value(cookie_header, BrowserSessions::cookie_name); !session.empty()) {
        access.key = sessions.find(auth, session);
        access.session = session;
        if (!access.key) return {401, "sluice: the browser session has ended; log in again with your key", nullptr, {}};
    } else {
        return {401, "sluice: an API key is required: send it as 'Authorization: Bearer <key>'", nullptr, {}};
    }
    if (!path.empty() && !key_allows_route(*access.key, path)) {
        return {403, fmt::format("sluice: key \"{}\" may not use {}", access.key->name, path), access.key, {}};
    }
    return access;
}

}  // namespace sluice
