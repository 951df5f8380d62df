// config_reader: the value grammars, messages and YAML walker every section reader of sluice.yaml uses.
#include "config_reader.hpp"

#include "sluice/ascii.hpp"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <sstream>
#include <vector>

namespace sluice::config_reader {
namespace {

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

}  // namespace

// ---------------------------------------------------------------------------------------------
// Messages

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

void fail_expected(std::string_view expected, std::string_view text, std::string_view hint) {
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

std::string format_size(std::size_t bytes) {
    constexpr std::array<std::pair<std::size_t, std::string_view>, 3> units{{{GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}}};
    for (const auto& [unit, name] : units) {
        if (bytes >= unit && bytes % unit == 0) return std::to_string(bytes / unit) + std::string(name);
    }
    return std::to_string(bytes);
}

// ---------------------------------------------------------------------------------------------
// Numbers, sizes, durations, booleans, names

std::optional<std::uint64_t> parse_digits(std::string_view text) {
    if (text.empty() || !std::all_of(text.begin(), text.end(), is_digit)) return std::nullopt;
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

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

std::string log_level(std::string_view text) {
    validate_log_level(text);
    return std::string(text);
}

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

int line_of(const YAML::Mark& mark, int fallback) { return mark.is_null() ? fallback : mark.line + 1; }

void throw_config_error(std::string_view source, int line, std::string_view path, std::string_view message) {
    std::string text(source);
    text += ':' + std::to_string(line) + ": ";
    if (!path.empty()) {
        text += path;
        text += ": ";
    }
    text += message;
    throw ConfigError(text);
}

void for_each_entry(const ConfigValue& mapping, std::string_view expected,
                    const std::function<void(const YAML::Node& key, const ConfigValue& value)>& read) {
    const YAML::Node& node = mapping.node();
    if (node.IsNull()) return;
    if (!node.IsMap()) mapping.fail("expected " + std::string(expected) + ", got " + describe(node));

    std::vector<std::pair<std::string, int>> seen;  // key, first line
    for (const auto& entry : node) {
        try {
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
        } catch (const ConfigError& error) {
            if (!mapping.errors()) throw;
            mapping.errors()->add(error.what());  // the innermost entry records it; the next is read
        } catch (const ConfigAlreadyReported&) {
            // recorded inside this entry's value already; go on with the next entry
        }
    }
}

void ConfigErrors::add(std::string message) {
    if (messages.size() < max_reported) {
        messages.push_back(std::move(message));
    } else {
        ++unreported;
    }
}

std::string ConfigErrors::text() const {
    std::string text;
    for (const auto& message : messages) {
        if (!text.empty()) text += '\n';
        text += message;
    }
    if (unreported > 0) text += "\n(" + std::to_string(unreported) + " more not shown: fix these first)";
    return text;
}

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

std::optional<std::string_view> closest_name(std::string_view name, const std::vector<std::string_view>& names) {
    std::optional<std::string_view> closest;
    std::size_t best = 3;  // a typo is a letter or two: a farther name is not what was meant
    for (const auto candidate : names) {
        if (const auto distance = edit_distance(name, candidate); distance < best) {
            best = distance;
            closest = candidate;
        }
    }
    return closest;
}

void read_mapping(const ConfigValue& mapping, std::initializer_list<Field> fields) {
    std::vector<std::string_view> keys;
    for (const Field& field : fields) keys.push_back(field.key);
    const std::string known = join(keys);
    const auto mistakes_before = mapping.errors() ? mapping.errors()->count() : 0;

    for_each_entry(mapping, "a mapping with the keys " + known, [&](const YAML::Node& key, const ConfigValue& value) {
        const auto field = std::find_if(fields.begin(), fields.end(),
                                        [&](const Field& candidate) { return candidate.key == key.Scalar(); });
        if (field == fields.end()) {
            const auto suggestion = closest_name(key.Scalar(), keys);
            throw_config_error(mapping.source(), line_of(key.Mark(), mapping.line()), {},
                               "unknown key '" + mapping.path_of(key.Scalar()) + "'" +
                                   (suggestion ? ": did you mean '" + std::string(*suggestion) + "'?" : std::string()) +
                                   " (known: " + known + ")");
        }
        field->read(value);
    });
    if (mapping.errors() && mapping.errors()->count() > mistakes_before) throw ConfigAlreadyReported{};
}

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
    const auto mistakes_before = list.errors() ? list.errors()->count() : 0;
    for (const YAML::Node& item : node) {
        try {
            read(list.item(index++, item));
        } catch (const ConfigError& error) {
            if (!list.errors()) throw;
            list.errors()->add(error.what());  // as for a mapping's entries: the next item is read
        } catch (const ConfigAlreadyReported&) {
        }
    }
    if (list.errors() && list.errors()->count() > mistakes_before) throw ConfigAlreadyReported{};
}

namespace {

std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const auto end = text.find('\n');
        lines.push_back(text.substr(0, end));
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    }
    return lines;
}

std::size_t indentation(std::string_view line) { return line.find_first_not_of(" \t") == std::string_view::npos ? line.size() : line.find_first_not_of(" \t"); }

bool blank_or_comment(std::string_view line) {
    const auto first = line.find_first_not_of(" \t\r");
    return first == std::string_view::npos || line[first] == '#';
}

// A key written without the space YAML needs after its colon ("listen:127.0.0.1:8434" reads as
// one scalar), so the next line's key cannot follow it.
bool key_without_space(std::string_view line) {
    std::size_t at = indentation(line);
    if (line.substr(at, 2) == "- ") at = indentation(line.substr(at + 2)) + at + 2;
    std::size_t end = at;
    while (end < line.size() && (is_letter(line[end]) || is_digit(line[end]) || line[end] == '_')) ++end;
    return end > at && end + 1 < line.size() && line[end] == ':' && line[end + 1] != ' ' && line[end + 1] != '\r';
}

// What usually causes yaml-cpp's complaint, from the lines up to where it noticed it.
std::string likely_cause(const std::vector<std::string_view>& lines, std::size_t at, std::string_view message) {
    for (std::size_t i = 0; i <= at && i < lines.size(); ++i) {
        const auto& line = lines[i];
        if (line.substr(0, indentation(line)).find('\t') != std::string_view::npos) {
            return "line " + std::to_string(i + 1) + " is indented with a tab; YAML indents with spaces only";
        }
    }
    if (message == "end of sequence flow not found" || message == "end of map flow not found") {
        return "a '[' or '{' opened above is not closed";
    }
    std::size_t previous = at;
    while (previous > 0 && blank_or_comment(lines[previous - 1])) --previous;
    if (previous > 0 && key_without_space(lines[previous - 1])) {
        return "line " + std::to_string(previous) + " needs a space after its key's ':' (key: value)";
    }
    if (at < lines.size() && key_without_space(lines[at])) {
        return "a space is needed after the key's ':' (key: value)";
    }
    if (message == "illegal map value") {
        if (previous > 0 && indentation(lines[at]) > indentation(lines[previous - 1])) {
            return "this line is indented deeper than the one above, whose value is already set (keys of one "
                   "mapping line up; a nested mapping goes under a key that ends with ':')";
        }
        return "two keys on one line? a nested mapping goes on the next lines, indented";
    }
    if (message == "end of map not found" || message == "end of sequence not found") {
        return "this line's indentation does not match the lines above (the keys of one mapping, and the '- ' "
               "items of one list, line up)";
    }
    return {};
}

// yaml-cpp's words, the likely cause, and the line with a caret where the parser stopped.
std::string explain_yaml_error(std::string_view text, const YAML::Exception& error) {
    std::string explained = error.msg;
    if (error.mark.is_null() || error.mark.line < 0) return explained;
    const auto lines = lines_of(text);
    const auto at = static_cast<std::size_t>(error.mark.line);
    if (const auto cause = likely_cause(lines, at, error.msg); !cause.empty()) explained += ": " + cause;
    if (at >= lines.size()) return explained;
    // Shown as it is, but one byte one column and nothing that could drive a terminal.
    std::string shown(lines[at].substr(0, 160));
    for (auto& c : shown) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = c == '\t' ? ' ' : '?';
    }
    const auto number = std::to_string(at + 1);
    const auto column = std::min(static_cast<std::size_t>(std::max(error.mark.column, 0)), shown.size());
    explained += "\n  " + number + " | " + shown;
    explained += "\n  " + std::string(number.size(), ' ') + " | " + std::string(column, ' ') + '^';
    return explained;
}

}  // namespace

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
        throw_config_error(source, line_of(error.mark, 1), {}, "invalid YAML: " + explain_yaml_error(text, error));
    }
    return document;
}

}  // namespace sluice::config_reader
