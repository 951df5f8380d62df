// config: sluice's typed configuration, loaded from one YAML file and validated.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice {

// A host and port, as written in `listen:` ("127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080").
struct HostPort {
    std::string host;
    std::uint16_t port = 0;

    bool operator==(const HostPort&) const = default;
};

// Where Ollama is: `upstream: http://127.0.0.1:11434` (http only; no path).
struct UpstreamUrl {
    std::string host;           // "127.0.0.1", "localhost", "::1"
    std::uint16_t port = 11434;
    std::string url;            // as written, normalised without a trailing slash (for messages)
    std::string host_header;    // what Ollama must see in Host: "127.0.0.1:11434", "[::1]:11434"

    bool operator==(const UpstreamUrl&) const = default;
};

struct Limits {
    std::size_t max_connections = 4096;        // open client connections, all loops together
    std::size_t max_header_bytes = 64 * 1024;  // request line + headers; beyond: 431
    std::size_t max_body_bytes = 64 * 1024 * 1024;  // bodies sluice reads (chat/generate JSON); beyond: 413
    std::size_t stream_buffer_bytes = 64 * 1024;    // the fixed relay buffer of one stream

    bool operator==(const Limits&) const = default;
};

struct Timeouts {
    std::chrono::milliseconds client_header{std::chrono::seconds(60)};    // idle keep-alive wait + header read
    std::chrono::milliseconds client_body{std::chrono::seconds(60)};      // no request-body byte for this long
    std::chrono::milliseconds client_send{std::chrono::seconds(60)};      // a client that takes no byte for this long
    std::chrono::milliseconds upstream_connect{std::chrono::seconds(5)};
    std::chrono::milliseconds upstream_headers{std::chrono::minutes(10)}; // model load + prompt eval

    bool operator==(const Timeouts&) const = default;
};

struct UpstreamPoolConfig {
    std::size_t max_idle = 32;  // idle keep-alive connections kept per event loop
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};

    bool operator==(const UpstreamPoolConfig&) const = default;
};

struct LogConfig {
    std::string level = "info";  // trace, debug, info, warn, error, critical, off
    bool access = true;          // one line per request

    bool operator==(const LogConfig&) const = default;
};

struct Config {
    HostPort listen{"127.0.0.1", 8080};
    UpstreamUrl upstream{"127.0.0.1", 11434, "http://127.0.0.1:11434", "127.0.0.1:11434"};
    unsigned threads = 0;  // event loops; 0 = one per core
    Limits limits;
    Timeouts timeouts;
    UpstreamPoolConfig upstream_pool;
    LogConfig log;

    // Member-wise, so tests and a reload can tell whether anything changed.
    bool operator==(const Config&) const = default;
};

// A config problem a user must fix; what() names the source, line, key and the bad value.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Parses YAML text; `source` names it in errors ("sluice.yaml:12: timeouts.client_header: ...").
Config parse_config(std::string_view yaml_text, std::string_view source);
// Reads and parses a file; a missing or unreadable file is a ConfigError too.
Config load_config_file(const std::string& path);

// The value parsers the YAML loader and the command line share; each throws ConfigError
// with a message that does not yet name a key (callers prefix it).
HostPort parse_host_port(std::string_view text);
UpstreamUrl parse_upstream_url(std::string_view text);
std::chrono::milliseconds parse_duration(std::string_view text);  // "250ms", "30s", "10m", "1h", "1m30s"
std::size_t parse_size(std::string_view text);                    // "65536", "64KiB", "64MiB", "1GiB"
void validate_log_level(std::string_view level);

}  // namespace sluice
