// config: reads sluice.yaml into a typed Config; every mistake names the file, line and key.
#include "sluice/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace sluice {
namespace {

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;
constexpr std::size_t GiB = 1024 * MiB;

// A config file is a page of settings; anything this big is the wrong file (or /dev/zero).
constexpr std::size_t max_config_file_bytes = 1 * MiB;

// ---------------------------------------------------------------------------------------------
// Messages

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex_digit(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string to_lower(std::string_view text) {
    std::string lower(text);
    for (char& c : lower) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return lower;
}

// `text` as a message shows it: quoted, control characters escaped and long values cut, so a
// stray byte or a pasted paragraph cannot garble the one line a user reads.
std::string quote(std::string_view text) {
    constexpr std::size_t max_shown = 80;
    std::size_t shown = std::min(text.size(), max_shown);
    while (shown < text.size() && shown > 0 && (static_cast<unsigned char>(text[shown]) & 0xC0) == 0x80) {
        --shown;  // do not cut a UTF-8 sequence in half
    }
    std::string out = "\"";
    for (const char c : text.substr(0, shown)) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20 || byte == 0x7F) {
            constexpr std::string_view hex = "0123456789abcdef";
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xF];
        } else {
            out += c;
        }
    }
    out += shown < text.size() ? "\"..." : "\"";
    return out;
}

// The one shape of a value parser's complaint: `expected <what>, got "<text>"[; <hint>]`.
[[noreturn]] void fail_expected(std::string_view expected, std::string_view text, std::string_view hint = {}) {
    std::string message = "expected ";
    message += expected;
    message += ", got ";
    message += quote(text);
    if (!hint.empty()) {
        message += "; ";
        message += hint;
    }
    throw ConfigError(message);
}

std::string join(const auto& items) {
    std::string joined;
    for (const auto& item : items) {
        if (!joined.empty()) joined += ", ";
        joined += item;
    }
    return joined;
}

// 1048576 -> "1MiB", 1000 -> "1000": limits in messages look the way users write them.
std::string format_size(std::size_t bytes) {
    constexpr std::array<std::pair<std::size_t, std::string_view>, 3> units{{{GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}}};
    for (const auto& [unit, name] : units) {
        if (bytes >= unit && bytes % unit == 0) return std::to_string(bytes / unit) + std::string(name);
    }
    return std::to_string(bytes);
}

// "a whole number from 0 to 256", "... of at least 1", or just "a whole number".
template <class Number>
std::string describe_range(std::string_view what, Number lowest, Number highest, std::string (*format)(Number)) {
    std::string text(what);
    if (highest != std::numeric_limits<Number>::max()) {
        text += " from " + format(lowest) + " to " + format(highest);
    } else if (lowest != 0) {
        text += " of at least " + format(lowest);
    }
    return text;
}

// ---------------------------------------------------------------------------------------------
// Numbers, sizes, durations, booleans

// A run of decimal digits and nothing else, if it fits in 64 bits.
std::optional<std::uint64_t> parse_digits(std::string_view text) {
    if (text.empty() || !std::all_of(text.begin(), text.end(), is_digit)) return std::nullopt;
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

template <class Integer>
std::string format_integer(Integer value) { return std::to_string(value); }

// A parser for a bounded count such as `threads` or `max_connections`.
template <class Integer>
auto whole_number(Integer lowest, Integer highest = std::numeric_limits<Integer>::max()) {
    return [lowest, highest](std::string_view text) -> Integer {
        const auto value = parse_digits(text);
        if (!value || *value < lowest || *value > highest) {
            fail_expected(describe_range<Integer>("a whole number", lowest, highest, format_integer<Integer>), text);
        }
        return static_cast<Integer>(*value);
    };
}

// A parser for a size with limits, such as a buffer that must hold at least one header.
auto size_between(std::size_t lowest, std::size_t highest = std::numeric_limits<std::size_t>::max()) {
    return [lowest, highest](std::string_view text) -> std::size_t {
        const std::size_t bytes = parse_size(text);
        if (bytes < lowest || bytes > highest) {
            fail_expected(describe_range<std::size_t>("a size", lowest, highest, format_size), text);
        }
        return bytes;
    };
}

// Every timeout in the file: zero would mean "give up at once", never "wait forever".
std::chrono::milliseconds positive_duration(std::string_view text) {
    const auto duration = parse_duration(text);
    if (duration.count() <= 0) fail_expected("a duration greater than zero, such as 30s", text);
    return duration;
}

bool parse_bool(std::string_view text) {
    const std::string lower = to_lower(text);
    if (lower == "true" || lower == "yes" || lower == "on") return true;
    if (lower == "false" || lower == "no" || lower == "off") return false;
    fail_expected("true or false", text);
}

constexpr std::array<std::string_view, 7> log_levels{"trace", "debug", "info", "warn", "error", "critical", "off"};

std::string log_level(std::string_view text) {
    validate_log_level(text);
    return std::string(text);
}

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
    "host:port such as 127.0.0.1:8080 or [::1]:8080", true, true, 0,
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
            fail_expected(form.expected, whole, "put an IPv6 address in brackets, e.g. [::1]:8080");
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
// Walking the YAML tree

std::string describe(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Scalar: return quote(node.Scalar());
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Map: return "a mapping";
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined: break;
    }
    return "nothing";
}

// 1-based; yaml-cpp counts from 0 and has no mark for nodes it made up.
int line_of(const YAML::Mark& mark, int fallback) { return mark.is_null() ? fallback : mark.line + 1; }

[[noreturn]] void throw_config_error(std::string_view source, int line, std::string_view path, std::string_view message) {
    std::string text(source);
    text += ':' + std::to_string(line) + ": ";
    if (!path.empty()) {
        text += path;
        text += ": ";
    }
    text += message;
    throw ConfigError(text);
}

// A YAML value together with what an error about it must name: source, line, dotted key path.
class ConfigValue {
public:
    ConfigValue(YAML::Node node, std::string_view source, std::string path, int line)
        : node_(std::move(node)), source_(source), path_(std::move(path)), line_(line) {}

    const YAML::Node& node() const { return node_; }
    std::string_view source() const { return source_; }
    const std::string& path() const { return path_; }
    int line() const { return line_; }

    std::string path_of(std::string_view key) const {
        return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
    }

    // The value of `key` in this mapping. An empty value's mark points past it, at whatever
    // comes next, so it is reported on its key's line.
    ConfigValue member(const YAML::Node& key, const YAML::Node& value) const {
        const int key_line = line_of(key.Mark(), line_);
        const int value_line = value.IsNull() ? key_line : line_of(value.Mark(), key_line);
        return {value, source_, path_of(key.Scalar()), value_line};
    }

    [[noreturn]] void fail(std::string_view message) const { throw_config_error(source_, line_, path_, message); }

    // The scalar run through `parser`, whose complaint gets this value's place in front.
    template <class Parser>
    auto parse(const Parser& parser) const {
        if (node_.IsMap() || node_.IsSequence()) fail("expected a single value, got " + describe(node_));
        try {
            return parser(std::string_view(node_.Scalar()));
        } catch (const ConfigError& error) {
            fail(error.what());
        }
    }

private:
    YAML::Node node_;
    std::string_view source_;
    std::string path_;
    int line_;
};

// One key a mapping may have, and how to read its value into the Config.
struct Field {
    std::string_view key;
    std::function<void(const ConfigValue&)> read;
};

// A leaf setting: a scalar turned into `target` by `parser` (which throws ConfigError).
template <class Target, class Parser>
Field setting(std::string_view key, Target& target, Parser parser) {
    return {key, [&target, parser](const ConfigValue& value) { target = value.parse(parser); }};
}

// A nested mapping, read by its own `read_<section>` function.
template <class Section>
Field section(std::string_view key, Section& target, void (*read)(const ConfigValue&, Section&)) {
    return {key, [&target, read](const ConfigValue& value) { read(value, target); }};
}

// Reads a mapping whose keys must all be among `fields`; absent keys keep their defaults.
void read_mapping(const ConfigValue& mapping, std::initializer_list<Field> fields) {
    std::vector<std::string_view> keys;
    for (const Field& field : fields) keys.push_back(field.key);
    const std::string known = join(keys);

    const YAML::Node& node = mapping.node();
    if (node.IsNull()) return;  // `limits:` with every line below it commented out
    if (!node.IsMap()) mapping.fail("expected a mapping with the keys " + known + ", got " + describe(node));

    std::vector<int> first_line(fields.size(), 0);  // yaml-cpp keeps duplicate keys; we refuse them
    for (const auto& entry : node) {
        const YAML::Node& key = entry.first;
        const int key_line = line_of(key.Mark(), mapping.line());
        if (!key.IsScalar()) {
            throw_config_error(mapping.source(), key_line, mapping.path(), "expected a key name, got " + describe(key));
        }
        const auto field = std::find_if(fields.begin(), fields.end(),
                                        [&](const Field& candidate) { return candidate.key == key.Scalar(); });
        const std::string dotted = mapping.path_of(key.Scalar());
        if (field == fields.end()) {
            throw_config_error(mapping.source(), key_line, {}, "unknown key '" + dotted + "' (known: " + known + ")");
        }
        int& first = first_line[static_cast<std::size_t>(field - fields.begin())];
        if (first != 0) {
            throw_config_error(mapping.source(), key_line, {},
                               "duplicate key '" + dotted + "' (first set on line " + std::to_string(first) + ")");
        }
        first = key_line;
        field->read(mapping.member(key, entry.second));
    }
}

// The sections, in the order sluice.yaml lists them. A new section is one `read_` function
// plus one `section(...)` line in read_config.

void read_limits(const ConfigValue& value, Limits& limits) {
    read_mapping(value, {
        setting("max_connections", limits.max_connections, whole_number<std::size_t>(1)),
        setting("max_header_bytes", limits.max_header_bytes, size_between(1 * KiB, 1 * MiB)),
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

void read_config(const ConfigValue& value, Config& config) {
    read_mapping(value, {
        setting("listen", config.listen, parse_host_port),
        setting("upstream", config.upstream, parse_upstream_url),
        setting("threads", config.threads, whole_number<unsigned>(0, 256)),
        section("limits", config.limits, read_limits),
        section("timeouts", config.timeouts, read_timeouts),
        section("upstream_pool", config.upstream_pool, read_upstream_pool),
        section("log", config.log, read_log),
    });
}

// The file's one document; a null node when the text is empty or only comments.
YAML::Node load_document(std::string_view yaml_text, std::string_view source) {
    std::vector<YAML::Node> documents;
    try {
        documents = YAML::LoadAll(std::string(yaml_text));
    } catch (const YAML::Exception& error) {
        throw_config_error(source, line_of(error.mark, 1), {}, "invalid YAML: " + error.msg);
    }
    if (documents.empty()) return YAML::Node();
    if (documents.size() > 1) {
        throw_config_error(source, line_of(documents[1].Mark(), 1), {},
                           "expected one YAML document, found " + std::to_string(documents.size()) +
                               "; remove the extra '---'");
    }
    return documents.front();
}

}  // namespace

Config parse_config(std::string_view yaml_text, std::string_view source) {
    const YAML::Node document = load_document(yaml_text, source);
    Config config;
    read_config(ConfigValue(document, source, "", line_of(document.Mark(), 1)), config);
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
    const std::string scheme = to_lower(text.substr(0, scheme_end));
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
    if (digits_end == 0 || unit == suffixes.end()) fail_expected(expected, text);
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

}  // namespace sluice
