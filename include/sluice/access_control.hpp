// access_control: who may use sluice, and for what. API keys (stored as salted SHA-256, compared
// in constant time), the routes and models each key may use, the browser page's session cookie,
// which browser origins may call sluice at all (CORS), and which Host names are this machine.
// No I/O but reading the host name and interfaces once; OpenSSL's libcrypto for the hash and
// the random numbers.
#pragma once

#include "sluice/config.hpp"
#include "sluice/json_edit.hpp"

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice {

// A new key: "sk-sluice-" and 64 hex digits (256 random bits). Keys are random tokens, not
// passwords, so one salted SHA-256 per check is as strong as a slow hash would be.
std::string generate_api_key();
// The `hash:` to put in the config for `key`: "sha256:<salt>:<digest>", a fresh salt each call.
std::string hash_api_key(std::string_view key);
// The configured key `presented` is, or null. Every key is hashed and compared in constant
// time, so the time taken tells nothing about how close a guess came.
const ApiKey* find_api_key(const AuthConfig& auth, std::string_view presented);

// The key called `name` (keys are looked up by name once their holder is known: sessions, sockets).
const ApiKey* key_named(const AuthConfig& auth, std::string_view name);
// Whether `key` may call `path` (its `routes:`; `chat` is an allow list from ollama_api), and
// use `model` (its `models:`).
bool key_allows_route(const ApiKey& key, std::string_view path);
bool key_allows_model(const ApiKey& key, std::string_view model);
// Why `key` may not send `body` to `path` (decoded, normalized), or nullopt when it may: every
// model the request names, read as Ollama reads it (ollama_api's models_named), must be one of
// the key's `models:`. `body` is empty when sluice cannot read it (compressed). One check for
// every route and both front ends (HTTP, the page's WebSocket).
std::optional<std::string> model_refusal(const ApiKey& key, std::string_view path, std::string_view body,
                                         JsonWorkspace& workspace);

// "Bearer <token>" (any case, as OpenAI's SDKs send it) -> the token; else empty.
std::string_view bearer_token(std::string_view authorization);
// The value of cookie `name` in a Cookie header; empty when absent.
std::string_view cookie_value(std::string_view cookie_header, std::string_view name);

// Whether a browser page at `origin` may call sluice, addressed as `host`: its own origin, or
// one of cors.allowed_origins.
bool origin_allowed(const CorsConfig& cors, std::string_view origin, std::string_view host);
// The Origin to echo in Access-Control-Allow-Origin: a page of another origin that is allowed
// (its own origin needs none); empty otherwise.
std::string_view allowed_cross_origin(const CorsConfig& cors, std::string_view origin, std::string_view host);

// What counts as this machine in a Host header, Ollama's rule for a loopback listener: empty,
// localhost and *.localhost, *.local, *.internal, the machine's host name, and IP addresses that
// are loopback, private, unspecified or on one of its interfaces. sluice checks it while it
// listens on loopback, where it stands in for Ollama's own check (which sees only the Host
// sluice sends): a page on another site whose name was made to resolve to 127.0.0.1 (DNS
// rebinding) must not reach Ollama through sluice.
struct LocalNames {
    std::string hostname;                             // gethostname(), lowercase
    std::vector<boost::asio::ip::address> interfaces;  // getifaddrs()

    static LocalNames of_this_machine();
    bool contains(std::string_view host_header) const;
};

// The browser page's logins: a key is shown once at /_sluice/login, and the page then carries
// an HttpOnly cookie holding a signed, expiring session token:
//   1.<expiry, unix seconds>.<nonce, 16 hex>.<HMAC-SHA256, 64 hex>.<key name>
// signed with a key derived from auth.session_secret (or, without one, from a secret of this
// process's own), over the fields and the key's hash. So sluice keeps no sessions: any
// instance with the same secret accepts them, a session dies with its expiry or its key
// leaving or changing in a reloaded config, and a new secret ends every session (rotation).
// A logout is remembered here, by this instance, until the token expires.
class BrowserSessions {
public:
    static constexpr std::string_view cookie_name = "sluice_session";
    static constexpr std::size_t max_token_bytes = 256;  // a longer cookie is no session of ours
    static constexpr std::size_t max_logouts = 10'000;   // beyond it, the logout nearest expiry goes

    BrowserSessions();
    // A new session for `key`: the token to set as the cookie.
    std::string open(const AuthConfig& auth, const ApiKey& key, std::chrono::milliseconds ttl) const;
    // The key of the session `token` names, in the config in force; null when there is none.
    const ApiKey* find(const AuthConfig& auth, std::string_view token);
    void close(std::string_view token);

    // Runs `on_logout` when the session `token` is closed: a WebSocket opened with the session
    // watches it, to close at once. It runs on the logging-out thread under this object's lock,
    // so it must only post; after unwatch() returns it never runs again.
    std::uint64_t watch(std::string_view token, std::function<void()> on_logout);
    void unwatch(std::uint64_t watch);

private:
    std::string process_secret_;  // signs when the config has no session_secret
    std::mutex mutex_;
    struct Watch {
        std::string token_hash;
        std::function<void()> on_logout;
    };
    std::unordered_map<std::string, std::int64_t> logouts_;  // SHA-256 of the token, hex -> its expiry
    std::unordered_map<std::uint64_t, Watch> watches_;
    std::uint64_t next_watch_ = 0;
};

// What sluice decides about a request before it goes anywhere.
struct Access {
    unsigned status = 0;          // 0: allowed; else 401 or 403, with `message`
    std::string message;
    const ApiKey* key = nullptr;  // whose request it is; null when authentication is off
    std::string_view session;     // the browser session's token, when the key came from the cookie
};

// With no keys configured everything is allowed. Otherwise the request needs a key, as
// `Authorization: Bearer <key>` or the page's session cookie, that may use `path` (any key when
// `path` is empty: sluice's own API for the page).
Access authorize(const AuthConfig& auth, BrowserSessions& sessions, std::string_view path,
                 std::string_view authorization, std::string_view cookie_header);

}  // namespace sluice
