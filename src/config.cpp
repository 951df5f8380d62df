// config: reads sluice.yaml into a typed Config; every mistake names the file, line and key.
#include "sluice/config.hpp"

#include "sluice/ascii.hpp"
#include "sluice/json_error.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
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
    const std::string lower = ascii_lowercase(text);
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

    // The `index`th item of this list, named "path[index]". An empty item's mark points past
    // it, so it is reported on the list's line.
    ConfigValue item(std::size_t index, const YAML::Node& value) const {
        return {value, source_, path_ + "[" + std::to_string(index) + "]", value.IsNull() ? line_ : line_of(value.Mark(), line_)};
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

// Calls `read(key, value)` for each entry of a mapping, refusing non-scalar and duplicate
// keys (yaml-cpp keeps both; we report the second). `expected` says what the mapping should
// be when it is something else; a null mapping (every line below it commented out) is empty.
void for_each_entry(const ConfigValue& mapping, std::string_view expected,
                    const std::function<void(const YAML::Node& key, const ConfigValue& value)>& read) {
    const YAML::Node& node = mapping.node();
    if (node.IsNull()) return;
    if (!node.IsMap()) mapping.fail("expected " + std::string(expected) + ", got " + describe(node));

    std::vector<std::pair<std::string, int>> seen;  // key, first line
    for (const auto& entry : node) {
        const YAML::Node& key = entry.first;
        const int key_line = line_of(key.Mark(), mapping.line());
        if (!key.IsScalar()) {
            throw_config_error(mapping.source(), key_line, mapping.path(), "expected a key name, got " + describe(key));
        }
        const auto first = std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == key.Scalar(); });
        if (first != seen.end()) {
            throw_config_error(mapping.source(), key_line, {},
                               "duplicate key '" + mapping.path_of(key.Scalar()) + "' (first set on line " +
                                   std::to_string(first->second) + ")");
        }
        seen.emplace_back(key.Scalar(), key_line);
        read(key, mapping.member(key, entry.second));
    }
}

// Reads a mapping whose keys must all be among `fields`; absent keys keep their defaults.
void read_mapping(const ConfigValue& mapping, std::initializer_list<Field> fields) {
    std::vector<std::string_view> keys;
    for (const Field& field : fields) keys.push_back(field.key);
    const std::string known = join(keys);

    for_each_entry(mapping, "a mapping with the keys " + known, [&](const YAML::Node& key, const ConfigValue& value) {
        const auto field = std::find_if(fields.begin(), fields.end(),
                                        [&](const Field& candidate) { return candidate.key == key.Scalar(); });
        if (field == fields.end()) {
            throw_config_error(mapping.source(), line_of(key.Mark(), mapping.line()), {},
                               "unknown key '" + mapping.path_of(key.Scalar()) + "' (known: " + known + ")");
        }
        field->read(value);
    });
}

// Calls `read` for each item of a list, as `path[0]`, `path[1]`...; a single value counts as a
// list of one when `single_allowed` (`force: num_ctx` reads like `force: [num_ctx]`).
void for_each_item(const ConfigValue& list, std::string_view expected, bool single_allowed,
                   const std::function<void(const ConfigValue& item)>& read) {
    const YAML::Node& node = list.node();
    if (node.IsNull()) return;
    if (node.IsScalar() && single_allowed) {
        read(list);
        return;
    }
    if (!node.IsSequence()) list.fail("expected " + std::string(expected) + ", got " + describe(node));
    std::size_t index = 0;
    for (const YAML::Node& item : node) {
        read(list.item(index++, item));
    }
}

// The sections, in the order sluice.yaml lists them. A new section is one `read_` function
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

// ---------------------------------------------------------------------------------------------
// rewrite: model rules

// A name as Ollama takes it: no spaces or control characters (the rest is Ollama's to judge).
std::string model_name_text(std::string_view what, std::string_view text) {
    const bool printable = std::all_of(text.begin(), text.end(), [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return byte > 0x20 && byte != 0x7F;
    });
    if (text.empty() || !printable) fail_expected(what, text);
    return std::string(text);
}

std::string model_pattern(std::string_view text) {
    return model_name_text("a model pattern such as \"qwen3:14b*\" or \"*\" (no spaces)", text);
}

std::string model_name(std::string_view text) {
    return model_name_text("a model name such as qwen3:14b-q8_0 (no spaces)", text);
}

std::string variant_suffix(std::string_view text) {
    if (text.find_first_of(":/") != std::string_view::npos) {
        fail_expected("a tag suffix such as -q8_0", text, "a suffix is appended to the requested tag; use alias for renames");
    }
    return model_name_text("a tag suffix such as -q8_0", text);
}

KvCacheType kv_cache_type(std::string_view text) {
    if (text == "f16") return KvCacheType::f16;
    if (text == "q8_0") return KvCacheType::q8_0;
    if (text == "q4_0") return KvCacheType::q4_0;
    fail_expected("one of f16, q8_0, q4_0", text);
}

ThinkMode think_mode(std::string_view text) {
    if (text == "on") return ThinkMode::on;
    if (text == "off") return ThinkMode::off;
    if (text == "auto") return ThinkMode::automatic;
    if (text == "passthrough") return ThinkMode::passthrough;
    fail_expected("one of on, off, auto, passthrough", text);
}

ThinkVia think_via(std::string_view text) {
    if (text == "field") return ThinkVia::field;
    if (text == "switch") return ThinkVia::soft_switch;
    if (text == "template") return ThinkVia::raw_template;
    fail_expected("one of field, switch, template", text);
}

std::string think_level(std::string_view text) {
    constexpr std::array<std::string_view, 4> levels{"low", "medium", "high", "max"};
    if (std::find(levels.begin(), levels.end(), text) == levels.end()) fail_expected("one of low, medium, high, max", text);
    return std::string(text);
}

// JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view text) {
    std::size_t at = 0;
    const auto digits = [&] {
        const std::size_t begin = at;
        while (at < text.size() && is_digit(text[at])) ++at;
        return at - begin;
    };
    if (at < text.size() && text[at] == '-') ++at;
    if (at < text.size() && text[at] == '0') {
        ++at;
    } else if (digits() == 0) {
        return false;
    }
    if (at < text.size() && text[at] == '.') {
        ++at;
        if (digits() == 0) return false;
    }
    if (at < text.size() && (text[at] == 'e' || text[at] == 'E')) {
        ++at;
        if (at < text.size() && (text[at] == '+' || text[at] == '-')) ++at;
        if (digits() == 0) return false;
    }
    return at == text.size();
}

std::string json_string(std::string_view text) {
    std::string json = "\"";
    append_json_escaped(json, text);
    json += '"';
    return json;
}

// `keep_alive` as Ollama reads it: a Go duration string ("30m", "1h30m", "-1m"), or a number of
// seconds (negative: keep loaded forever; 0: unload after the request), sent as a JSON number
// because Ollama refuses a string of digits ("300") with 400.
std::string keep_alive_json(std::string_view text) {
    if (is_json_number(text)) return std::string(text);
    // Go's units; micro may be written us, \u00B5s (micro sign) or \u03BCs (Greek mu).
    constexpr std::array<std::string_view, 8> units{"ns", "us", "\xC2\xB5s", "\xCE\xBCs", "ms", "s", "m", "h"};
    std::size_t at = text.starts_with('-') || text.starts_with('+') ? 1 : 0;
    bool any = false;
    while (at < text.size()) {
        const std::size_t number_begin = at;
        while (at < text.size() && (is_digit(text[at]) || text[at] == '.')) ++at;
        const auto number = text.substr(number_begin, at - number_begin);
        const bool number_ok = !number.empty() && number != "." && std::count(number.begin(), number.end(), '.') <= 1;
        // The longest unit that fits: "ms" rather than "m".
        std::size_t unit_size = 0;
        for (const auto unit : units) {
            if (text.substr(at).starts_with(unit) && unit.size() > unit_size) unit_size = unit.size();
        }
        if (!number_ok || unit_size == 0) {
            fail_expected("a duration such as 30m or 24h, or a number of seconds", text,
                          "negative keeps the model loaded, 0 unloads it after each request");
        }
        at += unit_size;
        any = true;
    }
    if (!any) fail_expected("a duration such as 30m or 24h, or a number of seconds", text);
    return json_string(text);
}

// Ollama's options (api/types.go: Options and Runner) and the JSON type each must have (a wrong
// type fails the request with 500). Ollama ignores any other name, so a misspelled one would
// change nothing: the config refuses it.
enum class OptionType { integer, number, boolean, strings };

struct KnownOption {
    std::string_view name;
    OptionType type;
};

constexpr std::array known_options{
    KnownOption{"num_ctx", OptionType::integer},          KnownOption{"num_predict", OptionType::integer},
    KnownOption{"num_keep", OptionType::integer},         KnownOption{"seed", OptionType::integer},
    KnownOption{"temperature", OptionType::number},       KnownOption{"top_k", OptionType::integer},
    KnownOption{"top_p", OptionType::number},             KnownOption{"min_p", OptionType::number},
    KnownOption{"typical_p", OptionType::number},         KnownOption{"repeat_last_n", OptionType::integer},
    KnownOption{"repeat_penalty", OptionType::number},    KnownOption{"presence_penalty", OptionType::number},
    KnownOption{"frequency_penalty", OptionType::number}, KnownOption{"stop", OptionType::strings},
    KnownOption{"num_batch", OptionType::integer},        KnownOption{"num_gpu", OptionType::integer},
    KnownOption{"main_gpu", OptionType::integer},         KnownOption{"num_thread", OptionType::integer},
    KnownOption{"use_mmap", OptionType::boolean},         KnownOption{"draft_num_predict", OptionType::integer},
};

// Levenshtein distance, for "did you mean" (names are short: a row of ints is enough).
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const auto above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

const KnownOption& known_option(const ConfigValue& value, std::string_view name) {
    const auto* closest = &known_options.front();
    for (const auto& option : known_options) {
        if (option.name == name) return option;
        if (edit_distance(name, option.name) < edit_distance(name, closest->name)) closest = &option;
    }
    std::string message = "not an option Ollama knows (it would ignore it)";
    message += edit_distance(name, closest->name) <= 2 ? "; did you mean '" + std::string(closest->name) + "'?" : ".";
    message += " Ollama's options: ";
    for (const auto& option : known_options) {
        if (&option != known_options.data()) message += ", ";
        message += option.name;
    }
    value.fail(message);
}

std::string integer_json(std::string_view text) {
    const std::string_view digits = text.starts_with('-') ? text.substr(1) : text;
    if (!parse_digits(digits) || (digits.size() > 1 && digits.front() == '0') ||
        *parse_digits(digits) > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        fail_expected("a whole number", text);
    }
    return std::string(text);
}

std::string number_json(std::string_view text) {
    if (!is_json_number(text)) fail_expected("a number such as 0.7", text);
    return std::string(text);
}

std::string boolean_json(std::string_view text) { return parse_bool(text) ? "true" : "false"; }

OptionDefault read_option(const ConfigValue& value, std::string_view name, std::vector<ConfigValue>& automatic_num_ctx) {
    OptionDefault option{std::string(name), {}, false};
    switch (known_option(value, name).type) {
        case OptionType::integer:
            if (name == "num_ctx") {
                if (value.parse([](std::string_view text) { return text == "auto"; })) {
                    option.automatic = true;
                    automatic_num_ctx.push_back(value);
                    return option;
                }
                option.json = value.parse([](std::string_view text) {
                    const auto number = parse_digits(text);
                    if (!number || *number == 0 || *number > std::numeric_limits<std::uint32_t>::max()) {
                        fail_expected("auto or a whole number of tokens such as 8192", text);
                    }
                    return std::to_string(*number);
                });
                return option;
            }
            option.json = value.parse(integer_json);
            return option;
        case OptionType::number: option.json = value.parse(number_json); return option;
        case OptionType::boolean: option.json = value.parse(boolean_json); return option;
        case OptionType::strings: {
            option.json = "[";
            for_each_item(value, "a string or a list of strings", true, [&](const ConfigValue& item) {
                if (option.json.size() > 1) option.json += ',';
                option.json += json_string(item.parse([](std::string_view text) { return std::string(text); }));
            });
            option.json += ']';
            return option;
        }
    }
    return option;
}

void read_think_template(const ConfigValue& value, ThinkTemplate& think_template) {
    const auto containing = [](std::string_view placeholder) {
        return [placeholder](std::string_view text) {
            const auto at = text.find(placeholder);
            if (at == std::string_view::npos || text.find(placeholder, at + 1) != std::string_view::npos) {
                fail_expected("text with " + std::string(placeholder) + " once", text);
            }
            return std::string(text);
        };
    };
    const auto text = [](std::string_view t) { return std::string(t); };
    read_mapping(value, {
        setting("system", think_template.system, containing("{{system}}")),
        setting("prompt", think_template.prompt, containing("{{prompt}}")),
        setting("think_on", think_template.think_on, text),
        setting("think_off", think_template.think_off, text),
    });
}

void read_rule(const ConfigValue& value, RewriteRule& rule, std::vector<ConfigValue>& automatic_num_ctx) {
    rule.line = value.line();
    std::optional<ConfigValue> match_value, alias_value, force_value, level_value, template_value;
    read_mapping(value, {
        {"match", [&](const ConfigValue& v) { rule.match = v.parse(model_pattern); match_value = v; }},
        {"prefer", [&](const ConfigValue& v) {
             for_each_item(v, "a list of tag suffixes such as [\"-fp8\", \"-q8_0\"]", true,
                           [&](const ConfigValue& item) { rule.prefer.push_back(item.parse(variant_suffix)); });
         }},
        {"alias", [&](const ConfigValue& v) {
             alias_value = v;
             for_each_entry(v, "a mapping from requested names to model names", [&](const YAML::Node& key, const ConfigValue& target) {
                 rule.alias.emplace_back(ConfigValue(key, v.source(), target.path(), target.line()).parse(model_name),
                                         target.parse(model_name));
             });
         }},
        {"options", [&](const ConfigValue& v) {
             for_each_entry(v, "a mapping of Ollama options such as {num_ctx: auto, num_thread: 8}",
                            [&](const YAML::Node& key, const ConfigValue& option) {
                                rule.options.push_back(read_option(option, key.Scalar(), automatic_num_ctx));
                            });
         }},
        {"force", [&](const ConfigValue& v) {
             force_value = v;
             for_each_item(v, "a list of keys such as [num_ctx]", true, [&](const ConfigValue& item) {
                 rule.force.push_back(item.parse([](std::string_view text) { return std::string(text); }));
             });
         }},
        setting("keep_alive", rule.keep_alive, keep_alive_json),
        setting("think", rule.think, think_mode),
        {"think_level", [&](const ConfigValue& v) { rule.think_level = v.parse(think_level); level_value = v; }},
        setting("think_via", rule.think_via, think_via),
        {"template", [&](const ConfigValue& v) { read_think_template(v, rule.think_template); template_value = v; }},
    });

    if (!match_value) value.fail("a rule needs match: a model pattern such as \"qwen3:14b*\", or \"*\" for every model");
    if (alias_value) {
        std::size_t index = 0;
        for_each_entry(*alias_value, "", [&](const YAML::Node&, const ConfigValue& target) {
            const std::string& from = rule.alias[index++].first;
            if (!model_pattern_matches(rule.match, from)) {
                target.fail("alias \"" + from + "\" is never used: this rule's match \"" + rule.match +
                            "\" does not cover it");
            }
        });
    }
    if (force_value) {
        std::size_t index = 0;
        for_each_item(*force_value, "", true, [&](const ConfigValue& item) {
            const std::string& key = rule.force[index++];
            const bool set = key == "keep_alive" ? !rule.keep_alive.empty()
                           : key == "think"      ? rule.think != ThinkMode::passthrough
                                                 : std::any_of(rule.options.begin(), rule.options.end(),
                                                               [&](const OptionDefault& o) { return o.name == key; });
            if (!set) {
                item.fail("'" + key + "' is not set by this rule; force names keys of its options (or keep_alive, "
                          "think) whose value must win over the client's");
            }
        });
    }
    if (level_value && (rule.think == ThinkMode::passthrough || rule.think == ThinkMode::off)) {
        level_value->fail("think_level needs think: on or auto");
    }
    if (level_value && rule.think_via == ThinkVia::soft_switch) {
        level_value->fail("think_level needs think_via: field (a /think soft switch has no levels)");
    }
    if (template_value && rule.think_via != ThinkVia::raw_template) {
        template_value->fail("template is only used with think_via: template");
    }
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

void read_rewrite(const ConfigValue& value, RewriteConfig& rewrite) {
    std::vector<ConfigValue> automatic_num_ctx;  // checked once gpu_memory is known, wherever it is written
    read_mapping(value, {
        setting("gpu_memory", rewrite.gpu_memory, parse_size),
        setting("kv_cache_type", rewrite.kv_cache_type, kv_cache_type),
        {"models", [&](const ConfigValue& models) {
             for_each_item(models, "a list of rules, each starting with '- match: <pattern>'", false,
                           [&](const ConfigValue& item) {
                               RewriteRule rule;
                               read_rule(item, rule, automatic_num_ctx);
                               for (const RewriteRule& earlier : rewrite.models) {
                                   if (normalize_model_name(earlier.match) == normalize_model_name(rule.match)) {
                                       item.fail("this rule never applies: the rule on line " +
                                                 std::to_string(earlier.line) + " has the same match \"" +
                                                 earlier.match + "\" and the first match wins");
                                   }
                               }
                               rewrite.models.push_back(std::move(rule));
                           });
         }},
    });
    if (rewrite.gpu_memory == 0 && !automatic_num_ctx.empty()) {
        automatic_num_ctx.front().fail(
            "auto needs rewrite.gpu_memory, the GPU memory Ollama may use (e.g. 24GiB), to size the KV cache");
    }
}

// ---------------------------------------------------------------------------------------------
// auth and cors

// "sha256:<salt>:<digest>" as `sluice hash-key` prints it.
void parse_key_hash(std::string_view text, ApiKey& key) {
    constexpr std::string_view expected = "a hash printed by `sluice hash-key` (sha256:<32 hex digits>:<64 hex digits>)";
    const auto hex_into = [&](std::string_view hex, auto& bytes) {
        if (hex.size() != bytes.size() * 2 || !std::all_of(hex.begin(), hex.end(), is_hex_digit)) {
            fail_expected(expected, text);
        }
        const auto value = [](char c) { return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10; };
        for (std::size_t i = 0; i < bytes.size(); ++i) {
            bytes[i] = static_cast<unsigned char>(value(hex[2 * i]) << 4 | value(hex[2 * i + 1]));
        }
    };
    if (!text.starts_with("sha256:")) {
        fail_expected(expected, text, text.starts_with("sk-") ? "this looks like the key itself: store its hash" : "");
    }
    const auto rest = text.substr(7);
    const auto colon = rest.find(':');
    if (colon == std::string_view::npos) fail_expected(expected, text);
    hex_into(rest.substr(0, colon), key.salt);
    hex_into(rest.substr(colon + 1), key.digest);
}

std::string key_name(std::string_view text) {
    if (text.empty() || text.size() > 64 || !std::all_of(text.begin(), text.end(), [](char c) {
            return is_letter(c) || is_digit(c) || c == '-' || c == '_' || c == '.' || c == '@';
        })) {
        fail_expected("a name of letters, digits, - _ . @ (at most 64)", text);
    }
    return std::string(text);
}

std::string route_pattern(std::string_view text) {
    constexpr std::string_view expected = "a path such as /api/chat, or a prefix ending in * such as /v1/*";
    if (!text.starts_with('/')) fail_expected(expected, text, "start it with '/'");
    const auto star = text.find('*');
    if (star != std::string_view::npos && star != text.size() - 1) fail_expected(expected, text, "* only at the end");
    if (text.find_first_of("?# \t") != std::string_view::npos) fail_expected(expected, text, "no query or spaces");
    return std::string(text);
}

void read_key(const ConfigValue& value, ApiKey& key) {
    key.line = value.line();
    bool has_hash = false;
    read_mapping(value, {
        setting("name", key.name, key_name),
        {"hash", [&](const ConfigValue& v) { v.parse([&](std::string_view text) { parse_key_hash(text, key); return 0; }); has_hash = true; }},
        {"routes", [&](const ConfigValue& v) {
             if (v.node().IsScalar()) {
                 const auto preset = v.node().Scalar();
                 if (preset == "all") { key.routes = KeyRoutes::all; return; }
                 if (preset == "chat") { key.routes = KeyRoutes::chat; return; }
                 if (!preset.starts_with('/')) {
                     v.fail("expected all, chat, or a list of paths such as [/api/chat, /api/tags], got " + quote(preset));
                 }
             }
             key.routes = KeyRoutes::listed;
             for_each_item(v, "all, chat, or a list of paths such as [/api/chat, /api/tags]", true,
                           [&](const ConfigValue& item) { key.route_patterns.push_back(item.parse(route_pattern)); });
         }},
        {"models", [&](const ConfigValue& v) {
             for_each_item(v, "a list of model patterns such as [\"qwen3:*\"]", true,
                           [&](const ConfigValue& item) { key.models.push_back(item.parse(model_pattern)); });
         }},
    });
    if (key.name.empty()) value.fail("a key needs name: who holds it (logged instead of the key)");
    if (!has_hash) value.fail("a key needs hash: run `sluice hash-key` and paste the hash it prints");
}

void read_auth(const ConfigValue& value, AuthConfig& auth) {
    read_mapping(value, {
        {"keys", [&](const ConfigValue& keys) {
             for_each_item(keys, "a list of keys, each starting with '- name: <who>'", false, [&](const ConfigValue& item) {
                 ApiKey key;
                 read_key(item, key);
                 for (const ApiKey& earlier : auth.keys) {
                     if (earlier.name == key.name) {
                         item.fail("the key on line " + std::to_string(earlier.line) + " has the same name \"" + key.name + "\"");
                     }
                     if (earlier.salt == key.salt && earlier.digest == key.digest) {
                         item.fail("the key on line " + std::to_string(earlier.line) + " has the same hash");
                     }
                 }
                 auth.keys.push_back(std::move(key));
             });
         }},
        setting("session_ttl", auth.session_ttl, positive_duration),
    });
}

// An Origin as browsers send it: scheme://host[:port], compared lowercase.
std::string origin(std::string_view text) {
    constexpr std::string_view expected = "an origin such as http://192.168.1.20:3000";
    const auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0 || text.size() == scheme_end + 3) {
        fail_expected(expected, text, text == "*" ? "any origin is not allowed; list each one" : "");
    }
    auto rest = text.substr(scheme_end + 3);
    if (rest.ends_with('/')) rest.remove_suffix(1);
    if (rest.find_first_of("/?# \t*") != std::string_view::npos) fail_expected(expected, text, "no path, query or wildcard");
    return ascii_lowercase(std::string(text.substr(0, scheme_end + 3)) + std::string(rest));
}

void read_cors(const ConfigValue& value, CorsConfig& cors) {
    read_mapping(value, {
        {"allowed_origins", [&](const ConfigValue& v) {
             for_each_item(v, "a list of origins such as [\"http://192.168.1.20:3000\"]", true,
                           [&](const ConfigValue& item) { cors.allowed_origins.push_back(item.parse(origin)); });
         }},
    });
}

void read_config(const ConfigValue& value, Config& config) {
    std::optional<ConfigValue> listen_value, metrics_value;
    read_mapping(value, {
        {"listen", [&](const ConfigValue& v) { config.listen = v.parse(parse_host_port); listen_value = v; }},
        setting("allow_unauthenticated", config.allow_unauthenticated, parse_bool),
        setting("upstream", config.upstream, parse_upstream_url),
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
    });
    if (metrics_value && !config.metrics.path.empty() &&
        (config.metrics.path == config.health.healthz || config.metrics.path == config.health.readyz)) {
        metrics_value->fail("metrics.path must differ from health.healthz and health.readyz");
    }
    if (listen_value && !may_face_the_network(config) && !is_loopback_host(config.listen.host)) {
        listen_value->fail(unauthenticated_exposure_message(listen_value->node().Scalar()));
    }
}

// The file's one document; a null node when the text is empty or only comments.
// Where each document's first node is, for "found 2 documents" errors. yaml-cpp's LoadAll
// never returns on some malformed input (",a" yields documents without end), so the documents
// are counted with its event parser, up to a bound, and only the first is loaded.
class DocumentMarks : public YAML::EventHandler {
public:
    std::vector<YAML::Mark> first_nodes;

    void OnDocumentStart(const YAML::Mark&) override { in_new_document_ = true; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node_at(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node_at(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
        node_at(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        node_at(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        node_at(mark);
    }
    void OnMapEnd() override {}

private:
    void node_at(const YAML::Mark& mark) {
        if (!in_new_document_) return;
        in_new_document_ = false;
        first_nodes.push_back(mark);
    }
    bool in_new_document_ = false;
};

YAML::Node load_document(std::string_view yaml_text, std::string_view source) {
    constexpr std::size_t max_documents_counted = 16;
    const std::string text(yaml_text);
    YAML::Node document;
    try {
        std::istringstream input(text);
        YAML::Parser parser(input);
        DocumentMarks documents;
        for (std::size_t i = 0; i < max_documents_counted && parser.HandleNextDocument(documents); ++i) {
        }
        if (documents.first_nodes.size() > 1) {
            const auto count = documents.first_nodes.size();
            throw_config_error(source, line_of(documents.first_nodes[1], 1), {},
                               "expected one YAML document, found " + std::to_string(count) +
                                   (count == max_documents_counted ? " or more" : "") + "; remove the extra '---'");
        }
        document = YAML::Load(text);
    } catch (const YAML::Exception& error) {
        throw_config_error(source, line_of(error.mark, 1), {}, "invalid YAML: " + error.msg);
    }
    return document;
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

std::vector<std::string> restart_only_changes(const Config& running, const Config& next) {
    std::vector<std::string> changed;
    if (running.listen != next.listen) changed.emplace_back("listen");
    if (running.upstream != next.upstream) changed.emplace_back("upstream");
    if (running.threads != next.threads) changed.emplace_back("threads");
    if (running.upstream_pool != next.upstream_pool) changed.emplace_back("upstream_pool");
    return changed;
}

Config with_restart_only_keys_of(const Config& running, Config next) {
    next.listen = running.listen;
    next.upstream = running.upstream;
    next.threads = running.threads;
    next.upstream_pool = running.upstream_pool;
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

bool RewriteRule::forces(std::string_view key) const {
    return std::find(force.begin(), force.end(), key) != force.end();
}

std::string normalize_model_name(std::string_view name) {
    for (const std::string_view prefix : {"registry.ollama.ai/library/", "library/"}) {
        if (name.size() > prefix.size() && ascii_lowercase(name.substr(0, prefix.size())) == prefix) {
            name.remove_prefix(prefix.size());
            break;
        }
    }
    std::string normalized(name);
    const auto slash = name.rfind('/');
    if (name.find(':', slash == std::string_view::npos ? 0 : slash) == std::string_view::npos) normalized += ":latest";
    return normalized;
}

bool model_pattern_matches(std::string_view pattern, std::string_view model) {
    const std::string full_model = normalize_model_name(model);
    const std::string full_pattern =
        pattern.find_first_of("*?") == std::string_view::npos ? normalize_model_name(pattern) : std::string(pattern);
    // Iterative glob with one backtrack point: linear in practice, never exponential.
    std::size_t p = 0, m = 0, star = std::string::npos, star_m = 0;
    while (m < full_model.size()) {
        if (p < full_pattern.size() && (full_pattern[p] == '?' || ascii_lower(full_pattern[p]) == ascii_lower(full_model[m]))) {
            ++p;
            ++m;
        } else if (p < full_pattern.size() && full_pattern[p] == '*') {
            star = p++;
            star_m = m;
        } else if (star != std::string::npos) {
            p = star + 1;
            m = ++star_m;
        } else {
            return false;
        }
    }
    while (p < full_pattern.size() && full_pattern[p] == '*') ++p;
    return p == full_pattern.size();
}

}  // namespace sluice
