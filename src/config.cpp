// config: reads sluice.yaml into a typed Config; every mistake names the file, line and key.
#include "sluice/config.hpp"

#include "config_reader.hpp"

#include "sluice/ascii.hpp"
#include "sluice/backend_choice.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

namespace sluice {
using namespace config_reader;

namespace {

// A config file is a page of settings; anything this big is the wrong file (or /dev/zero).
constexpr std::size_t max_config_file_bytes = 1 * MiB;

constexpr std::array<std::string_view, 7> log_levels{"trace", "debug", "info", "warn", "error", "critical", "off"};

// ---------------------------------------------------------------------------------------------
// Hosts and ports

bool is_ipv4_address(std::string_view text) {
    int parts = 0;
    for (;;) {
        const auto dot = text.find('.');
        const auto part = text.substr(0, dot);
        const bool leading_zero = part.size() > 1 && part.front() == '0';  // octal to inet_aton
        const auto value = part.size() <= 3 && !leading_zero ? parse_digits(part) : std::nullopt;
        if (!value || *value > 255) return false;
        ++parts;
        if (dot == std::string_view::npos) return parts == 4;
        text.remove_prefix(dot + 1);
    }
}

// Adds the colon-separated hex groups of `text` to `groups` (a trailing IPv4 part counts as
// two); false if a group is malformed.
bool count_ipv6_groups(std::string_view text, bool ipv4_tail_allowed, int& groups) {
    if (text.empty()) return true;
    for (;;) {
        const auto colon = text.find(':');
        const auto group = text.substr(0, colon);
        if (colon == std::string_view::npos && ipv4_tail_allowed && group.find('.') != std::string_view::npos) {
            groups += 2;
            return is_ipv4_address(group);
        }
        if (group.empty() || group.size() > 4 || !std::all_of(group.begin(), group.end(), is_hex_digit)) return false;
        ++groups;
        if (colon == std::string_view::npos) return true;
        text.remove_prefix(colon + 1);
    }
}

bool is_ipv6_address(std::string_view text) {
    int groups = 0;
    const auto gap = text.find("::");
    if (gap == std::string_view::npos) return count_ipv6_groups(text, true, groups) && groups == 8;
    const auto before = text.substr(0, gap);
    const auto after = text.substr(gap + 2);
    return after.find("::") == std::string_view::npos && count_ipv6_groups(before, false, groups) &&
           count_ipv6_groups(after, true, groups) && groups <= 7;
}

// DNS labels, plus '_' because container names (Docker, Compose) may carry it.
bool is_host_name(std::string_view text) {
    if (text.empty() || text.size() > 253) return false;
    for (;;) {
        const auto dot = text.find('.');
        const auto label = text.substr(0, dot);
        const auto label_char = [](char c) { return is_letter(c) || is_digit(c) || c == '-' || c == '_'; };
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
            !std::all_of(label.begin(), label.end(), label_char)) {
            return false;
        }
        if (dot == std::string_view::npos) return true;
        text.remove_prefix(dot + 1);
    }
}

// How `listen:` and the authority of `upstream:` differ; the rest of host:port is shared.
struct AuthorityForm {
    std::string_view expected;  // for messages: what a good value looks like
    bool port_required;
    bool port_zero_allowed;     // the kernel picks a free port; only meaningful for listening
    std::uint16_t default_port;
    std::string_view missing_host_hint;
};

constexpr AuthorityForm listen_form{
    "host:port such as 127.0.0.1:8434 or [::1]:8434", true, true, 0,
    "the host is missing; use 0.0.0.0 or [::] to listen on every interface"};
constexpr AuthorityForm upstream_form{
    "http://host[:port] such as http://127.0.0.1:11434", false, false, 11434, "the host is missing"};

void check_host(std::string_view host, bool bracketed, const AuthorityForm& form, std::string_view whole) {
    if (host.empty()) fail_expected(form.expected, whole, form.missing_host_hint);
    if (bracketed) {
        if (!is_ipv6_address(host)) fail_expected(form.expected, whole, quote(host) + " is not an IPv6 address");
    } else if (std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; })) {
        if (!is_ipv4_address(host)) fail_expected(form.expected, whole, quote(host) + " is not an IPv4 address");
    } else if (!is_host_name(host)) {
        fail_expected(form.expected, whole, quote(host) + " is not a host name or address");
    }
}

std::uint16_t parse_port(std::string_view text, const AuthorityForm& form, std::string_view whole) {
    const std::uint64_t lowest = form.port_zero_allowed ? 0 : 1;
    const auto port = parse_digits(text);
    if (!port || *port < lowest || *port > 65535) {
        fail_expected(form.expected, whole, "the port must be a number from " + std::to_string(lowest) + " to 65535");
    }
    return static_cast<std::uint16_t>(*port);
}

// "host:port", "[v6]:port", and (where the form has a default port) "host" or "[v6]".
// `whole` is the full text the user wrote, for messages.
HostPort parse_authority(std::string_view text, const AuthorityForm& form, std::string_view whole) {
    std::string_view host;
    std::optional<std::string_view> port_text;
    bool bracketed = false;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos) fail_expected(form.expected, whole, "the closing ']' is missing");
        bracketed = true;
        host = text.substr(1, close - 1);
        const auto rest = text.substr(close + 1);
        if (rest.starts_with(':')) {
            port_text = rest.substr(1);
        } else if (!rest.empty()) {
            fail_expected(form.expected, whole, "only ':' and a port may follow ']'");
        }
    } else {
        const auto colon = text.find(':');
        if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
            fail_expected(form.expected, whole, "put an IPv6 address in brackets, e.g. [::1]:8434");
        }
        host = text.substr(0, colon);
        if (colon != std::string_view::npos) port_text = text.substr(colon + 1);
    }
    check_host(host, bracketed, form, whole);
    if (!port_text) {
        if (form.port_required) fail_expected(form.expected, whole, "the port is missing");
        return {std::string(host), form.default_port};
    }
    return {std::string(host), parse_port(*port_text, form, whole)};
}

// ---------------------------------------------------------------------------------------------
// Sections

// The sections read here, in the order sluice.yaml lists them (rewrite: is read in
// rewrite_config.cpp, auth: and cors: in auth_config.cpp). A new section is one `read_` function
// plus one `section(...)` line in read_config.

void read_limits(const ConfigValue& value, Limits& limits) {
    read_mapping(value, {
        setting("max_connections", limits.max_connections, whole_number<std::size_t>(1)),
        // 64KiB at most: Beast stores a header field in at most 64KiB, and a longer one would throw.
        setting("max_header_bytes", limits.max_header_bytes, size_between(1 * KiB, 64 * KiB)),
        setting("max_body_bytes", limits.max_body_bytes, size_between(1 * KiB)),
        setting("stream_buffer_bytes", limits.stream_buffer_bytes, size_between(4 * KiB, 16 * MiB)),
    });
}

void read_timeouts(const ConfigValue& value, Timeouts& timeouts) {
    read_mapping(value, {
        setting("client_header", timeouts.client_header, positive_duration),
        setting("client_body", timeouts.client_body, positive_duration),
        setting("client_send", timeouts.client_send, positive_duration),
        setting("upstream_connect", timeouts.upstream_connect, positive_duration),
        setting("upstream_headers", timeouts.upstream_headers, positive_duration),
        setting("drain", timeouts.drain, positive_duration),
    });
}

void read_upstream_pool(const ConfigValue& value, UpstreamPoolConfig& pool) {
    read_mapping(value, {
        setting("max_idle", pool.max_idle, whole_number<std::size_t>(0)),
        setting("idle_timeout", pool.idle_timeout, positive_duration),
    });
}

void read_log(const ConfigValue& value, LogConfig& log) {
    read_mapping(value, {
        setting("level", log.level, log_level),
        setting("access", log.access, parse_bool),
    });
}

// A path sluice answers itself: it must not hide one of Ollama's routes or the page's files.
std::string own_path(std::string_view text) {
    constexpr std::string_view expected = "a path such as /healthz";
    if (!text.starts_with('/')) fail_expected(expected, text, "start it with '/'");
    if (text == "/") fail_expected(expected, text, "/ is Ollama's (\"Ollama is running\") and the browser page's");
    if (text.find_first_of("?# \t") != std::string_view::npos) {
        fail_expected(expected, text, "no query, fragment or spaces");
    }
    for (const std::string_view taken : {"/api/", "/v1/", "/_sluice/"}) {
        if (text.starts_with(taken)) {
            fail_expected(expected, text,
                          "paths under " + std::string(taken) + " belong to " +
                              (taken == "/_sluice/" ? "the browser page" : "Ollama's API"));
        }
    }
    return std::string(text);
}

void read_health(const ConfigValue& value, HealthConfig& health) {
    std::optional<ConfigValue> readyz_value;
    read_mapping(value, {
        setting("healthz", health.healthz, own_path),
        {"readyz", [&](const ConfigValue& v) { health.readyz = v.parse(own_path); readyz_value = v; }},
        setting("ready_within", health.ready_within, positive_duration),
    });
    if (health.readyz == health.healthz) {
        (readyz_value ? *readyz_value : value).fail("health.readyz and health.healthz must be different paths");
    }
}

void read_metrics(const ConfigValue& value, MetricsConfig& metrics) {
    read_mapping(value, {
        setting("path", metrics.path, [](std::string_view text) { return text.empty() ? std::string() : own_path(text); }),
    });
}

// ui.dir: checked when the file is read, so a typo fails at start (or is refused by a reload)
// rather than as 404s in the browser.
std::string page_directory(std::string_view text) {
    if (text.empty()) return {};
    std::error_code ec;
    if (!std::filesystem::is_regular_file(std::filesystem::path(text) / "index.html", ec)) {
        fail_expected("a directory holding a built page (its index.html)", text,
                      "build one with: cd ui && SLUICE_UI_OUT=<dir> npx vite build --watch");
    }
    return std::string(text);
}

void read_ui(const ConfigValue& value, UiConfig& ui) {
    read_mapping(value, {
        setting("dir", ui.dir, page_directory),
    });
}

// A backend's name or label: it goes into log lines, metric labels and JSON as it is.
std::string backend_word(std::string_view text) {
    const bool plain = std::all_of(text.begin(), text.end(),
                                   [](char c) { return is_letter(c) || is_digit(c) || c == '-' || c == '_' || c == '.'; });
    if (text.empty() || text.size() > 64 || !plain) fail_expected("letters, digits, '-', '_' and '.' (at most 64)", text);
    return std::string(text);
}

// One item of `upstreams:`: a URL, or a mapping with `url:` and the backend's settings.
Backend read_backend(const ConfigValue& item) {
    Backend backend;
    if (item.node().IsScalar()) {
        backend.url = item.parse(parse_upstream_url);
        return backend;
    }
    bool has_url = false;
    read_mapping(item, {
        {"url", [&](const ConfigValue& v) { backend.url = v.parse(parse_upstream_url); has_url = true; }},
        setting("name", backend.name, backend_word),
        setting("weight", backend.weight, whole_number<unsigned>(1, 1000)),
        setting("max_generations", backend.max_generations, whole_number<unsigned>(0, 4096)),
        {"labels", [&](const ConfigValue& v) {
             for_each_item(v, "a list of labels such as [4090, office]", true,
                           [&](const ConfigValue& label) { backend.labels.push_back(label.parse(backend_word)); });
         }},
        setting("manage", backend.manage, parse_bool),
    });
    if (!has_url) item.fail("a backend needs its url, e.g. 'url: http://10.0.0.11:11434'");
    return backend;
}

// `upstreams:` the Ollamas of a fleet: distinct addresses and names, at most one `manage`.
void read_upstreams(const ConfigValue& value, std::vector<Backend>& upstreams) {
    std::vector<Backend> read;
    for_each_item(value, "a list of Ollama URLs, or of mappings with url:", false, [&](const ConfigValue& item) {
        auto backend = read_backend(item);
        for (const auto& earlier : read) {
            if (earlier.url.host_header == backend.url.host_header) item.fail(backend.url.url + " is listed twice");
            if (earlier.label() == backend.label()) item.fail("two backends are named " + std::string(backend.label()));
            if (earlier.manage && backend.manage) item.fail("only one backend may have 'manage: true'");
        }
        read.push_back(std::move(backend));
    });
    if (read.empty()) value.fail("list at least one Ollama, e.g. '- http://127.0.0.1:11434'");
    if (read.size() > max_backends) value.fail("at most " + std::to_string(max_backends) + " backends");
    upstreams = std::move(read);
}

void read_queue(const ConfigValue& value, QueueConfig& queue) {
    read_mapping(value, {
        setting("max_waiting", queue.max_waiting, whole_number<std::size_t>(0, 100'000)),
        setting("max_wait", queue.max_wait, positive_duration),
    });
}

void read_routing(const ConfigValue& value, RoutingConfig& routing) {
    read_mapping(value, {
        setting("sticky", routing.sticky, [](std::string_view text) {
            return text == "off" ? std::chrono::milliseconds(0) : positive_duration(text);
        }),
    });
}

// `store: off` (or on), or a mapping.
void read_store(const ConfigValue& value, StoreConfig& store) {
    if (value.node().IsScalar()) {
        store.enabled = value.parse([](std::string_view text) {
            const auto word = ascii_lowercase(text);
            if (word == "off" || word == "false") return false;
            if (word == "on" || word == "true") return true;
            fail_expected("off, or a mapping such as {path: /var/lib/sluice/conversations.db}", text);
        });
        return;
    }
    read_mapping(value, {
        setting("path", store.path, [](std::string_view text) {
            if (text.ends_with('/')) fail_expected("a file such as /var/lib/sluice/conversations.db", text, "name the file");
            return std::string(text);
        }),
        setting("max_bytes", store.max_bytes, [](std::string_view text) {
            const auto bytes = parse_size(text);
            if (bytes != 0 && bytes < 1024 * 1024) fail_expected("0 (no cap) or at least 1MiB", text);
            return bytes;
        }),
    });
}

void read_config(const ConfigValue& value, Config& config) {
    std::optional<ConfigValue> listen_value, metrics_value, upstream_value, upstreams_value;
    read_mapping(value, {
        {"listen", [&](const ConfigValue& v) { config.listen = v.parse(parse_host_port); listen_value = v; }},
        setting("allow_unauthenticated", config.allow_unauthenticated, parse_bool),
        {"upstream", [&](const ConfigValue& v) { config.upstreams = single_upstream(v.parse(parse_upstream_url)); upstream_value = v; }},
        {"upstreams", [&](const ConfigValue& v) { read_upstreams(v, config.upstreams); upstreams_value = v; }},
        setting("threads", config.threads, whole_number<unsigned>(0, 256)),
        section("limits", config.limits, read_limits),
        section("timeouts", config.timeouts, read_timeouts),
        section("upstream_pool", config.upstream_pool, read_upstream_pool),
        section("log", config.log, read_log),
        section("health", config.health, read_health),
        {"metrics", [&](const ConfigValue& v) { read_metrics(v, config.metrics); metrics_value = v; }},
        section("ui", config.ui, read_ui),
        section("rewrite", config.rewrite, read_rewrite),
        section("auth", config.auth, read_auth),
        section("cors", config.cors, read_cors),
        section("tls", config.tls, read_tls),
        section("store", config.store, read_store),
        section("queue", config.queue, read_queue),
        section("routing", config.routing, read_routing),
    });
    if (upstream_value && upstreams_value) {
        upstreams_value->fail("upstream: (one Ollama) and upstreams: (several) are two ways to say the same; keep one");
    }
    if (metrics_value && !config.metrics.path.empty() &&
        (config.metrics.path == config.health.healthz || config.metrics.path == config.health.readyz)) {
        metrics_value->fail("metrics.path must differ from health.healthz and health.readyz");
    }
    if (listen_value && !may_face_the_network(config) && !is_loopback_host(config.listen.host)) {
        listen_value->fail(unauthenticated_exposure_message(listen_value->node().Scalar()));
    }
}

}  // namespace

Config parse_config(std::string_view yaml_text, std::string_view source) {
    const YAML::Node document = load_document(yaml_text, source);
    Config config;
    ConfigErrors errors;
    try {
        read_config(ConfigValue(document, source, "", line_of(document.Mark(), 1), &errors), config);
    } catch (const ConfigError& error) {
        errors.add(error.what());  // the file as a whole (not a mapping), or a check across sections
    } catch (const ConfigAlreadyReported&) {
    }
    if (!errors.messages.empty()) throw ConfigError(errors.text());
    return config;
}

Config load_config_file(const std::string& path) {
    const auto cannot_read = [&path](std::string_view why) {
        return ConfigError("cannot read config file " + path + ": " + std::string(why));
    };
    struct CloseFile {
        void operator()(std::FILE* file) const { std::fclose(file); }
    };
    const std::unique_ptr<std::FILE, CloseFile> file(std::fopen(path.c_str(), "rb"));
    if (!file) throw cannot_read(std::strerror(errno));
    std::string text;
    std::array<char, 16 * 1024> buffer;
    std::size_t got = 0;
    while ((got = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
        text.append(buffer.data(), got);
        if (text.size() > max_config_file_bytes) {
            throw cannot_read("larger than " + format_size(max_config_file_bytes) + "; is this the right file?");
        }
    }
    if (std::ferror(file.get())) throw cannot_read(std::strerror(errno));
    return parse_config(text, path);
}

HostPort parse_host_port(std::string_view text) { return parse_authority(text, listen_form, text); }

UpstreamUrl parse_upstream_url(std::string_view text) {
    const AuthorityForm& form = upstream_form;
    const auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos) {
        fail_expected(form.expected, text, text.empty() ? "" : "add the scheme: http://" + std::string(text));
    }
    const std::string scheme = ascii_lowercase(text.substr(0, scheme_end));
    if (scheme == "https") {
        fail_expected(form.expected, text,
                      "TLS to Ollama is not supported; use http:// (Ollama itself serves plain HTTP)");
    }
    if (scheme != "http") fail_expected(form.expected, text, "only http:// is supported");

    std::string_view authority = text.substr(scheme_end + 3);
    if (authority.ends_with('/')) authority.remove_suffix(1);
    if (const auto end = authority.find_first_of("/?#"); end != std::string_view::npos) {
        fail_expected(form.expected, text,
                      authority[end] == '/'
                          ? "remove the path " + quote(authority.substr(end)) + "; sluice forwards each request's own path"
                          : std::string("remove the query or fragment"));
    }
    if (authority.find('@') != std::string_view::npos) {
        fail_expected(form.expected, text, "user names and passwords in the URL are not supported");
    }

    HostPort host_port = parse_authority(authority, form, text);
    const bool ipv6 = host_port.host.find(':') != std::string::npos;
    std::string host_header = (ipv6 ? "[" + host_port.host + "]" : host_port.host) + ":" + std::to_string(host_port.port);
    return UpstreamUrl{std::move(host_port.host), host_port.port, "http://" + host_header, host_header};
}

std::chrono::milliseconds parse_duration(std::string_view text) {
    constexpr std::string_view expected = "a duration such as 30s or 10m";
    if (!text.empty() && std::all_of(text.begin(), text.end(), is_digit)) {
        fail_expected(expected, text, "add a unit, e.g. " + std::string(text) + "s");
    }
    if (text.empty()) fail_expected(expected, text);

    // Any timer built from the result must hold it in nanoseconds without overflowing.
    constexpr std::int64_t longest_ms = std::chrono::nanoseconds::max().count() / 1'000'000;
    std::int64_t total_ms = 0;
    std::size_t at = 0;
    while (at < text.size()) {  // <number><unit>, repeated, like Go durations (OLLAMA_KEEP_ALIVE)
        const std::size_t digits_begin = at;
        while (at < text.size() && is_digit(text[at])) ++at;
        const auto digits = text.substr(digits_begin, at - digits_begin);
        std::int64_t unit_ms = 0;
        if (text.substr(at, 2) == "ms") {
            unit_ms = 1;
            at += 2;
        } else if (at < text.size()) {
            constexpr std::array<std::pair<char, std::int64_t>, 3> units{{{'s', 1'000}, {'m', 60'000}, {'h', 3'600'000}}};
            for (const auto& [letter, ms] : units) {
                if (text[at] == letter) unit_ms = ms;
            }
            if (unit_ms != 0) ++at;
        }
        if (digits.empty() || unit_ms == 0) fail_expected(expected, text);
        const auto number = parse_digits(digits);
        if (!number || *number > static_cast<std::uint64_t>((longest_ms - total_ms) / unit_ms)) {
            fail_expected(expected, text, "that is longer than any timer can hold");
        }
        total_ms += static_cast<std::int64_t>(*number) * unit_ms;
    }
    return std::chrono::milliseconds(total_ms);
}

std::size_t parse_size(std::string_view text) {
    constexpr std::string_view expected =
        "a size such as 65536, 64KiB or 16MiB (a number of bytes, optionally followed by B, KiB, MiB or GiB)";
    constexpr std::array<std::pair<std::string_view, std::size_t>, 5> suffixes{
        {{"", 1}, {"B", 1}, {"KiB", KiB}, {"MiB", MiB}, {"GiB", GiB}}};
    const auto digits_end = std::find_if_not(text.begin(), text.end(), is_digit) - text.begin();
    const auto number = parse_digits(text.substr(0, static_cast<std::size_t>(digits_end)));
    std::string_view suffix = text.substr(static_cast<std::size_t>(digits_end));
    if (suffix.size() > 1 && suffix.starts_with(' ')) suffix.remove_prefix(1);  // "64 KiB" reads naturally too
    const auto unit = std::find_if(suffixes.begin(), suffixes.end(), [&](const auto& s) { return s.first == suffix; });
    if (digits_end == 0 || unit == suffixes.end()) {
        // 24GB or 24G: a card's memory as vendors write it. Which of 10^9 and 2^30 was meant is
        // a guess either way, so the fix is said rather than guessed.
        const auto letter = suffix.empty() ? '\0' : ascii_lower(suffix.front());
        const bool decimal_unit = (suffix.size() == 1 || (suffix.size() == 2 && ascii_lower(suffix[1]) == 'b')) &&
                                  (letter == 'k' || letter == 'm' || letter == 'g');
        if (digits_end != 0 && decimal_unit) {
            const std::string binary = letter == 'k' ? "KiB" : letter == 'm' ? "MiB" : "GiB";
            fail_expected(expected, text,
                          "write " + std::string(text.substr(0, static_cast<std::size_t>(digits_end))) + binary +
                              " (sizes count in KiB, MiB and GiB: 1GiB is 1024^3 bytes)");
        }
        fail_expected(expected, text);
    }
    if (!number || *number > std::numeric_limits<std::size_t>::max() / unit->second) {
        fail_expected(expected, text, "that is too large");
    }
    return static_cast<std::size_t>(*number) * unit->second;
}

void validate_log_level(std::string_view level) {
    if (std::find(log_levels.begin(), log_levels.end(), level) == log_levels.end()) {
        fail_expected("one of " + join(log_levels), level);
    }
}

std::vector<Backend> single_upstream(UpstreamUrl url) {
    Backend backend;
    backend.url = std::move(url);
    return {std::move(backend)};
}

std::string describe_upstreams(const Config& config) {
    if (config.upstreams.size() == 1) return "ollama at " + config.upstream().url;
    std::string text = std::to_string(config.upstreams.size()) + " ollamas:";
    for (const auto& backend : config.upstreams) {
        text += (&backend == &config.upstreams.front() ? " " : ", ") + backend.url.url + " (" + std::string(backend.label()) + ")";
    }
    return text;
}

std::size_t Config::managing_backend() const {
    const auto marked = std::find_if(upstreams.begin(), upstreams.end(), [](const Backend& b) { return b.manage; });
    return marked == upstreams.end() ? 0 : static_cast<std::size_t>(marked - upstreams.begin());
}

std::vector<std::string> restart_only_changes(const Config& running, const Config& next) {
    std::vector<std::string> changed;
    if (running.listen != next.listen) changed.emplace_back("listen");
    if (running.upstreams != next.upstreams) {
        changed.emplace_back(running.upstreams.size() == 1 && next.upstreams.size() == 1 ? "upstream" : "upstreams");
    }
    if (running.threads != next.threads) changed.emplace_back("threads");
    if (running.upstream_pool != next.upstream_pool) changed.emplace_back("upstream_pool");
    if (running.store != next.store) changed.emplace_back("store");
    return changed;
}

Config with_restart_only_keys_of(const Config& running, Config next) {
    next.listen = running.listen;
    next.upstreams = running.upstreams;
    next.threads = running.threads;
    next.upstream_pool = running.upstream_pool;
    next.store = running.store;
    return next;
}

bool is_loopback_host(std::string_view host) {
    return host == "localhost" || host == "::1" || (host.starts_with("127.") && is_ipv4_address(host));
}

bool may_face_the_network(const Config& config) { return config.allow_unauthenticated || !config.auth.keys.empty(); }

std::string unauthenticated_exposure_message(std::string_view address) {
    return "refusing to listen on " + std::string(address) +
           " without authentication: every device that can reach it could use Ollama through sluice. Add an API "
           "key (run `sluice hash-key` and put the hash under auth.keys in the config file), or, if the network "
           "is trusted, set 'allow_unauthenticated: true'";
}

}  // namespace sluice
