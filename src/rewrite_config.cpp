// rewrite_config: reads the `rewrite:` section (model rules, Ollama's options); model names and their globs.
#include "config_reader.hpp"

#include "sluice/ascii.hpp"
#include "sluice/json_error.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice {
using namespace config_reader;

namespace {

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

const KnownOption& known_option(const ConfigValue& value, std::string_view name) {
    std::vector<std::string_view> names;
    for (const auto& option : known_options) {
        if (option.name == name) return option;
        names.push_back(option.name);
    }
    std::string message = "not an option Ollama knows (it would ignore it)";
    const auto suggestion = closest_name(name, names);
    message += suggestion ? "; did you mean '" + std::string(*suggestion) + "'?" : ".";
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

}  // namespace

void config_reader::read_rewrite(const ConfigValue& value, RewriteConfig& rewrite) {
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
