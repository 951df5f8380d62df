// config_reader: the value grammars, messages and YAML walker every section reader of sluice.yaml uses.
// Private to src/ because it exposes yaml-cpp, which must stay out of include/sluice.
#pragma once

#include "sluice/ascii.hpp"
#include "sluice/config.hpp"

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::config_reader {

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;
constexpr std::size_t GiB = 1024 * MiB;

// ---------------------------------------------------------------------------------------------
// Messages

// `text` as a message shows it: quoted, control characters escaped and long values cut, so a
// stray byte or a pasted paragraph cannot garble the one line a user reads.
std::string quote(std::string_view text);

// The one shape of a value parser's complaint: `expected <what>, got "<text>"[; <hint>]`.
[[noreturn]] void fail_expected(std::string_view expected, std::string_view text, std::string_view hint = {});

// 1048576 -> "1MiB", 1000 -> "1000": limits in messages look the way users write them.
std::string format_size(std::size_t bytes);

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
// Numbers, sizes, durations, booleans, names

// A run of decimal digits and nothing else, if it fits in 64 bits.
std::optional<std::uint64_t> parse_digits(std::string_view text);

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
inline auto size_between(std::size_t lowest, std::size_t highest = std::numeric_limits<std::size_t>::max()) {
    return [lowest, highest](std::string_view text) -> std::size_t {
        const std::size_t bytes = parse_size(text);
        if (bytes < lowest || bytes > highest) {
            fail_expected(describe_range<std::size_t>("a size", lowest, highest, format_size), text);
        }
        return bytes;
    };
}

// Every timeout in the file: zero would mean "give up at once", never "wait forever".
std::chrono::milliseconds positive_duration(std::string_view text);

bool parse_bool(std::string_view text);

std::string log_level(std::string_view text);

// A name as Ollama takes it: no spaces or control characters (the rest is Ollama's to judge).
std::string model_name_text(std::string_view what, std::string_view text);

// `match:` of a rewrite rule and `models:` of an API key.
std::string model_pattern(std::string_view text);

// ---------------------------------------------------------------------------------------------
// Walking the YAML tree

std::string describe(const YAML::Node& node);

// 1-based; yaml-cpp counts from 0 and has no mark for nodes it made up.
int line_of(const YAML::Mark& mark, int fallback);

[[noreturn]] void throw_config_error(std::string_view source, int line, std::string_view path, std::string_view message);

// Every mistake in one file, so one run reports them all: each mapping entry whose reading
// fails is recorded here and the rest of the file is still read (its setting keeps its default).
struct ConfigErrors {
    static constexpr std::size_t max_reported = 20;
    std::vector<std::string> messages;
    std::size_t unreported = 0;

    void add(std::string message);
    std::size_t count() const { return messages.size() + unreported; }
    std::string text() const;  // one line per mistake, in file order
};

// Thrown by a mapping some of whose entries were recorded as mistakes: what reads it skips its
// own checks of the whole (a rule with a refused `match` is not also "a rule without match"),
// and the entry that holds it is not recorded again.
struct ConfigAlreadyReported {};

// A YAML value together with what an error about it must name: source, line, dotted key path.
class ConfigValue {
public:
    ConfigValue(YAML::Node node, std::string_view source, std::string path, int line, ConfigErrors* errors = nullptr)
        : node_(std::move(node)), source_(source), path_(std::move(path)), line_(line), errors_(errors) {}

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
        return {value, source_, path_of(key.Scalar()), value_line, errors_};
    }

    // The `index`th item of this list, named "path[index]". An empty item's mark points past
    // it, so it is reported on the list's line.
    ConfigValue item(std::size_t index, const YAML::Node& value) const {
        return {value, source_, path_ + "[" + std::to_string(index) + "]",
                value.IsNull() ? line_ : line_of(value.Mark(), line_), errors_};
    }

    [[noreturn]] void fail(std::string_view message) const { throw_config_error(source_, line_, path_, message); }

    // Where this file's mistakes are collected; null: the first one is thrown.
    ConfigErrors* errors() const { return errors_; }

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
    ConfigErrors* errors_;
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
                    const std::function<void(const YAML::Node& key, const ConfigValue& value)>& read);

// Levenshtein distance, for "did you mean" (names are short: a row of ints is enough).
std::size_t edit_distance(std::string_view a, std::string_view b);
// The one of `names` within two edits of `name` (the closest), for "did you mean".
std::optional<std::string_view> closest_name(std::string_view name, const std::vector<std::string_view>& names);

// Reads a mapping whose keys must all be among `fields`; absent keys keep their defaults.
void read_mapping(const ConfigValue& mapping, std::initializer_list<Field> fields);

// Calls `read` for each item of a list, as `path[0]`, `path[1]`...; a single value counts as a
// list of one when `single_allowed` (`force: num_ctx` reads like `force: [num_ctx]`).
void for_each_item(const ConfigValue& list, std::string_view expected, bool single_allowed,
                   const std::function<void(const ConfigValue& item)>& read);

// The file's one document; a null node when the text is empty or only comments.
YAML::Node load_document(std::string_view yaml_text, std::string_view source);

// ---------------------------------------------------------------------------------------------
// The sections read beside their owners (the rest are in config.cpp, with read_config)

void read_rewrite(const ConfigValue& value, RewriteConfig& rewrite);  // rewrite_config.cpp
void read_auth(const ConfigValue& value, AuthConfig& auth);           // auth_config.cpp
void read_cors(const ConfigValue& value, CorsConfig& cors);           // auth_config.cpp
void read_tls(const ConfigValue& value, TlsConfig& tls);              // tls.cpp

}  // namespace sluice::config_reader
