// config: sluice's typed configuration, loaded from one YAML file and validated.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace sluice {

// A host and port, as written in `listen:` ("127.0.0.1:8434", "[::1]:8434", "0.0.0.0:8434").
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

// One Ollama of `upstreams:` (or the one `upstream:` names). Requests for a model go to a
// backend that has it loaded, else installed (fleet.hpp); the ones that change what is
// installed go to the backend marked `manage`.
struct Backend {
    UpstreamUrl url{"127.0.0.1", 11434, "http://127.0.0.1:11434", "127.0.0.1:11434"};
    std::string name;                 // in logs, metrics and listings; "": its host:port
    unsigned weight = 1;              // among equals, active generations count per unit of weight
    unsigned max_generations = 0;     // its OLLAMA_NUM_PARALLEL: past it another backend is preferred; 0: none known
    std::vector<std::string> labels;  // free-form ("4090", "office"), shown with the backend
    bool manage = false;              // pull, push, create, copy, delete and blob uploads go here

    std::string_view label() const { return name.empty() ? std::string_view(url.host_header) : std::string_view(name); }
    bool operator==(const Backend&) const = default;
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
    std::chrono::milliseconds drain{std::chrono::seconds(30)};            // SIGTERM: streams may finish for this long

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

// sluice's own health endpoints, answered by sluice and never forwarded. Paths are validated
// to stay clear of Ollama's (/api/, /v1/) and the page's (/_sluice/).
struct HealthConfig {
    std::string healthz = "/healthz";  // 200 while sluice runs, 503 while it drains
    std::string readyz = "/readyz";    // 200 while Ollama answered /api/version recently
    std::chrono::milliseconds ready_within{std::chrono::seconds(30)};  // "recently"

    bool operator==(const HealthConfig&) const = default;
};

// The browser page (ui_assets.hpp): embedded in the binary, or read from `dir` (for UI
// development: `vite build --watch` into it, then reload the browser).
struct UiConfig {
    std::string dir;  // empty: the embedded page

    bool operator==(const UiConfig&) const = default;
};

// Prometheus metrics (metrics.hpp), answered by sluice at `path` in the text format and never
// forwarded; validated like the health paths. "" turns them off: nothing is counted.
struct MetricsConfig {
    std::string path = "/metrics";

    bool operator==(const MetricsConfig&) const = default;
};

// ---------------------------------------------------------------------------------------------
// rewrite: per-model rules the request rewriter applies (see rewrite.hpp for what each does).

// The element type of Ollama's KV cache (the server's OLLAMA_KV_CACHE_TYPE; quantized types
// need OLLAMA_FLASH_ATTENTION=1, else Ollama falls back to f16). Decides bytes per token.
enum class KvCacheType { f16, q8_0, q4_0 };

// `think:` what a rule does about thinking. passthrough leaves the client's request alone.
enum class ThinkMode { passthrough, on, off, automatic };

// `think_via:` how thinking is switched: Ollama's "think" field, Qwen3's /think and /no_think
// soft switch appended to the prompt, or /api/generate in raw mode with a ChatML template.
enum class ThinkVia { field, soft_switch, raw_template };

// One default for Ollama's "options", already in the JSON form it is sent in.
struct OptionDefault {
    std::string name;        // "num_ctx", "temperature", or any other key (Ollama decides)
    std::string json;        // "8192", "0.7", "true", "[\"\\n\"]"; empty when automatic
    bool automatic = false;  // num_ctx: auto, computed per model from its shape and gpu_memory

    bool operator==(const OptionDefault&) const = default;
};

// The raw prompt `think_via: template` builds for /api/generate: system (only when the request
// has one) + prompt + think_on or think_off. Defaults are Qwen3's ChatML.
struct ThinkTemplate {
    std::string system = "<|im_start|>system\n{{system}}<|im_end|>\n";
    std::string prompt = "<|im_start|>user\n{{prompt}}<|im_end|>\n<|im_start|>assistant\n";
    std::string think_on = "<think>\n";
    std::string think_off = "<think>\n\n</think>\n\n";

    bool operator==(const ThinkTemplate&) const = default;
};

// One entry of rewrite.models; the first whose `match` fits the requested model applies.
struct RewriteRule {
    std::string match;  // glob on name:tag, * and ?; "qwen3" means "qwen3:latest"
    int line = 0;       // where the rule starts in the config file, for reasons and `sluice explain`
    std::vector<std::string> prefer;                          // tag suffixes, first installed wins
    std::vector<std::pair<std::string, std::string>> alias;   // exact renames, before prefer
    std::vector<OptionDefault> options;                       // in file order
    std::vector<std::string> force;  // option names, "keep_alive" or "think": the rule's value wins
    std::string keep_alive;          // JSON text ("\"30m\"", "-1"); empty: none
    ThinkMode think = ThinkMode::passthrough;
    std::string think_level;         // "low", "medium", "high", "max"; empty: true/false
    ThinkVia think_via = ThinkVia::field;
    ThinkTemplate think_template;

    bool forces(std::string_view key) const;
    bool operator==(const RewriteRule&) const = default;
};

struct RewriteConfig {
    std::size_t gpu_memory = 0;  // bytes of GPU memory Ollama may use; 0 = not set (num_ctx: auto needs it)
    KvCacheType kv_cache_type = KvCacheType::f16;
    std::vector<RewriteRule> models;  // empty: every request goes upstream unchanged

    bool operator==(const RewriteConfig&) const = default;
};

// The meaning of a rule's `match`, shared by config validation and the rewriter.
// A model name without a tag is ":latest", as Ollama reads it ("qwen3" -> "qwen3:latest");
// Ollama's default registry prefix is dropped ("registry.ollama.ai/library/qwen3:8b" -> "qwen3:8b").
std::string normalize_model_name(std::string_view name);
// `pattern` as a glob (* any run, ? one character; ASCII case-insensitive, as Ollama compares
// names) against the normalized `model`. A pattern without a tag and without wildcards means
// its ":latest", like a name.
bool model_pattern_matches(std::string_view pattern, std::string_view model);

// ---------------------------------------------------------------------------------------------
// auth and cors: who may use sluice (see access_control.hpp for how they are checked).

// `routes:` what a key may call. chat: everything but managing models (pull, push, create,
// copy, delete, blobs); listed: only the paths in ApiKey::routes.
enum class KeyRoutes { all, chat, listed };

// One API key. Only its salted SHA-256 is stored ("sha256:<32 hex salt>:<64 hex digest>",
// printed by `sluice hash-key`), so the config file never holds a usable key.
struct ApiKey {
    std::string name;  // who holds it; logged instead of the key
    std::array<unsigned char, 16> salt{};
    std::array<unsigned char, 32> digest{};  // SHA-256(salt || key)
    KeyRoutes routes = KeyRoutes::all;
    std::vector<std::string> route_patterns;  // listed: "/api/chat", or a prefix with * ("/v1/*")
    std::vector<std::string> models;          // model globs it may use (as rewrite's match); empty: any
    unsigned requests_per_minute = 0;         // requests to Ollama it may start a minute; 0: any (key_limits.hpp)
    unsigned max_streams = 0;                 // generations it may run at once; 0: any
    int line = 0;                             // where it is in the config file

    bool operator==(const ApiKey&) const = default;
};

struct AuthConfig {
    std::vector<ApiKey> keys;  // none: no authentication (sluice must then stay on loopback)
    std::chrono::milliseconds session_ttl{std::chrono::hours(12)};  // the browser page's login
    // The secret browser sessions are signed with (access_control.hpp), read from this file with
    // the config (a reload reads it again: a new secret ends every session). Several sluice
    // instances behind one balancer share it; empty: a secret of the process's own.
    std::string session_secret_file;
    std::string session_secret;

    bool operator==(const AuthConfig&) const = default;
};

// Browser pages of other origins that may call sluice (e.g. "http://192.168.1.20:3000"); a page
// sluice serves itself (same origin) always may. Other origins are refused by sluice.
struct CorsConfig {
    std::vector<std::string> allowed_origins;  // scheme://host[:port], lowercase, no path

    bool operator==(const CorsConfig&) const = default;
};

// HTTPS on the listener (tls.hpp). Without it sluice speaks plain HTTP.
struct TlsConfig {
    std::string cert;  // PEM file: the certificate, then its chain
    std::string key;   // PEM file: its private key
    // Loaded from the two files when the config is read (a reload reads them again); null: no TLS.
    std::shared_ptr<boost::asio::ssl::context> context;

    bool operator==(const TlsConfig&) const = default;
};

// When every backend that has a request's model is at its max_generations (upstreams:), the
// request waits its turn, first come first served per model, or is answered 503 with Retry-After.
struct QueueConfig {
    std::size_t max_waiting = 64;  // requests waiting per model; past it 503. 0: 503 at once
    std::chrono::milliseconds max_wait{std::chrono::minutes(2)};  // a request that waited this long: 503

    bool operator==(const QueueConfig&) const = default;
};

// How a fleet (upstreams:) places requests beyond their model and load.
struct RoutingConfig {
    // A conversation's next turn goes back to the backend its last one ran on (its KV cache is
    // warm there) while that backend is up, holds the model and is not full, for this long after
    // the last turn; 0: off, every turn is placed afresh.
    std::chrono::milliseconds sticky{0};

    bool operator==(const RoutingConfig&) const = default;
};

// The page's conversations on the server (conversation_store.hpp): one SQLite file.
struct StoreConfig {
    bool enabled = true;        // `store: off`: chats stay in each browser's storage
    std::string path;           // "": conversations.db in the state directory (conversation_store_file)
    std::size_t max_bytes = 0;  // the file's cap (0: the disk's); past it writes are refused (507)

    bool operator==(const StoreConfig&) const = default;
};

// ---------------------------------------------------------------------------------------------

struct Config {
    HostPort listen{"127.0.0.1", 8434};
    // Listening beyond loopback is refused without API keys (auth.keys) unless this says the
    // network is trusted.
    bool allow_unauthenticated = false;
    std::vector<Backend> upstreams{Backend{}};  // never empty; `upstream: URL` is a list of one
    unsigned threads = 0;  // event loops; 0 = one per core
    Limits limits;
    Timeouts timeouts;
    UpstreamPoolConfig upstream_pool;
    LogConfig log;
    HealthConfig health;
    MetricsConfig metrics;
    UiConfig ui;
    RewriteConfig rewrite;
    AuthConfig auth;
    CorsConfig cors;
    TlsConfig tls;
    StoreConfig store;
    QueueConfig queue;
    RoutingConfig routing;

    // Member-wise, so tests and a reload can tell whether anything changed.
    bool operator==(const Config&) const = default;

    // The one Ollama of a single-box config, and the first of a fleet.
    const UpstreamUrl& upstream() const { return upstreams.front().url; }
    // Where model management goes: the backend marked `manage`, else the first.
    std::size_t managing_backend() const;
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
// "ollama at http://127.0.0.1:11434", or "3 ollamas: http://10.0.0.11:11434 (gpu1), ..." for logs.
std::string describe_upstreams(const Config& config);
// A config whose one upstream is `url` (tests, the command line's --upstream).
std::vector<Backend> single_upstream(UpstreamUrl url);
std::chrono::milliseconds parse_duration(std::string_view text);  // "250ms", "30s", "10m", "1h", "1m30s"
std::size_t parse_size(std::string_view text);                    // "65536", "64KiB", "64MiB", "1GiB"
void validate_log_level(std::string_view level);

// A reload (SIGHUP) applies every key except these, which the listeners, event loops and upstream
// connections and the conversation store are built from at start. Returns the keys that differ
// ("listen", "upstream" or "upstreams", "threads", "upstream_pool", "store") so the reload can say a restart is needed.
std::vector<std::string> restart_only_changes(const Config& running, const Config& next);
// `next` with the restart-only keys of `running`: what a reload actually puts in force.
Config with_restart_only_keys_of(const Config& running, Config next);

// Whether a listen host reaches only this machine: 127.0.0.0/8, ::1 or localhost.
bool is_loopback_host(std::string_view host);
// Whether sluice may listen beyond loopback: it has API keys, or the network is declared trusted.
bool may_face_the_network(const Config& config);
// The refusal to serve `address` (e.g. "0.0.0.0:8434") to the network without authentication.
std::string unauthenticated_exposure_message(std::string_view address);

}  // namespace sluice
