// conversation_document: the few things sluice reads of a stored conversation, and export files.
#include "sluice/conversation_document.hpp"

#include "sluice/ascii.hpp"
#include "sluice/json_error.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>

namespace sluice {
namespace {

namespace dom = simdjson::dom;
namespace ondemand = simdjson::ondemand;

constexpr std::size_t max_id = 64;
constexpr std::string_view export_format_key = "sluice_conversations";

// The member `name` of `object`, or nullopt; `repeated` when it comes more than once.
std::optional<dom::element> only_member(dom::object object, std::string_view name, bool& repeated) {
    std::optional<dom::element> found;
    for (const auto field : object) {
        if (field.key != name) continue;
        if (found) repeated = true;
        found = field.value;
    }
    return found;
}

// Every "content" string at any depth (messages, earlier versions, branches), for search.
void collect_content(dom::element element, std::string& text) {
    if (element.is_object()) {
        for (const auto field : dom::object(element)) {
            if (field.key == "content" && field.value.is_string()) {
                text += std::string_view(field.value);
                text += '\n';
            } else {
                collect_content(field.value, text);
            }
        }
    } else if (element.is_array()) {
        for (const auto item : dom::array(element)) collect_content(item, text);
    }
}

std::string_view string_member(dom::object object, std::string_view name) {
    std::string_view value;
    return object[name].get(value) ? std::string_view{} : value;
}

}  // namespace

bool is_conversation_id(std::string_view id) {
    return !id.empty() && id.size() <= max_id && std::all_of(id.begin(), id.end(), [](char c) {
        return is_letter(c) || is_digit(c) || c == '-' || c == '_';
    });
}

std::optional<ConversationFacts> read_conversation(std::string_view document, dom::parser& parser, std::string& error) {
    const auto parsed = parser.parse(document.data(), document.size());
    if (parsed.error()) {
        error = fmt::format("sluice: the conversation is not valid JSON ({})", simdjson::error_message(parsed.error()));
        return std::nullopt;
    }
    if (!parsed.value_unsafe().is_object()) {
        error = "sluice: a conversation is a JSON object";
        return std::nullopt;
    }
    const dom::object object(parsed.value_unsafe());
    bool repeated = false;
    const auto id = only_member(object, "id", repeated);
    const auto title = only_member(object, "title", repeated);
    if (repeated) {
        error = "sluice: the conversation names \"id\" or \"title\" twice";
        return std::nullopt;
    }
    if (!id || !id->is_string() || !is_conversation_id(std::string_view(*id))) {
        error = "sluice: a conversation needs an \"id\" of 1 to 64 letters, digits, '-' or '_'";
        return std::nullopt;
    }
    if (title && !title->is_string()) {
        error = "sluice: a conversation's \"title\" is a string";
        return std::nullopt;
    }
    ConversationFacts facts{std::string(std::string_view(*id)), title ? std::string(std::string_view(*title)) : "", {}};
    collect_content(parsed.value_unsafe(), facts.text);
    return facts;
}

std::string conversation_markdown(std::string_view document, dom::parser& parser) {
    const auto parsed = parser.parse(document.data(), document.size());
    if (parsed.error() || !parsed.value_unsafe().is_object()) return {};
    const dom::object conversation(parsed.value_unsafe());
    const auto title = string_member(conversation, "title");
    std::string out = fmt::format("# {}\n", title.empty() ? "Untitled chat" : title);
    if (const auto system = string_member(conversation, "system"); !system.empty()) {
        fmt::format_to(std::back_inserter(out), "\n**System:** {}\n", system);
    }
    dom::array messages;
    if (conversation["messages"].get(messages)) return out;
    for (const auto item : messages) {
        if (!item.is_object()) continue;
        const dom::object message(item);
        auto role = std::string(string_member(message, "role"));
        if (!role.empty()) role[0] = ascii_upper(role[0]);
        fmt::format_to(std::back_inserter(out), "\n## {}\n\n", role.empty() ? "Message" : role);
        if (const auto thinking = string_member(message, "thinking"); !thinking.empty()) {
            out += "> **Thinking**\n>\n";
            for (std::size_t start = 0; start < thinking.size();) {
                const auto end = std::min(thinking.find('\n', start), thinking.size());
                fmt::format_to(std::back_inserter(out), "> {}\n", thinking.substr(start, end - start));
                start = end + 1;
            }
            out += '\n';
        }
        out += string_member(message, "content");
        out += '\n';
    }
    return out;
}

std::string export_file(const std::vector<ExportedConversation>& conversations) {
    std::string out = fmt::format(R"({{"{}":1,"conversations":[)", export_format_key);
    for (const auto& entry : conversations) {
        if (out.back() != '[') out += ',';
        fmt::format_to(std::back_inserter(out), R"({{"created":{},"updated":{},"conversation":{}}})", entry.created,
                       entry.updated, entry.document);
    }
    out += "]}\n";
    return out;
}

std::optional<std::vector<ImportEntry>> read_export_file(std::string_view text, dom::parser& parser, std::string& error) {
    const auto fail = [&error](std::string message) -> std::optional<std::vector<ImportEntry>> {
        error = std::move(message);
        return std::nullopt;
    };
    const std::string expected = fmt::format(
        R"(an export file: {{"{}":1,"conversations":[{{"created":ms,"updated":ms,"conversation":{{...}}}},...]}})",
        export_format_key);
    // The DOM checks every byte and the shape; then the on-demand parser finds each document's
    // bytes, which are stored as they are.
    std::size_t count = 0;
    {
        const auto parsed = parser.parse(text.data(), text.size());
        if (parsed.error()) return fail(fmt::format("sluice: the import is not valid JSON ({})", simdjson::error_message(parsed.error())));
        if (!parsed.value_unsafe().is_object()) return fail("sluice: the import is not " + expected);
        const dom::object top(parsed.value_unsafe());
        bool repeated = false;
        const auto format = only_member(top, export_format_key, repeated);
        const auto list = only_member(top, "conversations", repeated);
        if (repeated || !format || !format->is_int64() || int64_t(*format) != 1 || !list || !list->is_array()) {
            return fail("sluice: the import is not " + expected);
        }
        for (const auto item : dom::array(*list)) {
            ++count;
            if (!item.is_object()) return fail(fmt::format("sluice: import entry {} is not an object", count));
            const dom::object entry(item);
            const auto created = only_member(entry, "created", repeated);
            const auto updated = only_member(entry, "updated", repeated);
            const auto conversation = only_member(entry, "conversation", repeated);
            if (repeated || !created || !created->is_int64() || !updated || !updated->is_int64() || !conversation ||
                !conversation->is_object()) {
                return fail(fmt::format("sluice: import entry {} needs \"created\", \"updated\" (ms) and \"conversation\" once each", count));
            }
        }
    }
    std::vector<ImportEntry> entries;
    entries.reserve(count);
    const simdjson::padded_string padded(text);
    ondemand::parser reader;
    try {
        auto document = reader.iterate(padded);
        for (auto entry : document["conversations"].get_array()) {
            ExportedConversation exported;
            for (auto field : entry.get_object()) {
                const std::string_view key = field.unescaped_key();
                if (key == "created") exported.created = field.value().get_int64();
                if (key == "updated") exported.updated = field.value().get_int64();
                if (key == "conversation") {
                    ondemand::object object = field.value().get_object();
                    const std::string_view raw = object.raw_json();
                    exported.document = text.substr(static_cast<std::size_t>(raw.data() - padded.data()), raw.size());
                }
            }
            entries.push_back({exported, {}});
        }
    } catch (const simdjson::simdjson_error& failed) {
        return fail(fmt::format("sluice: the import could not be read ({})", failed.what()));
    }
    std::string facts_error;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        auto facts = read_conversation(entries[i].exported.document, parser, facts_error);
        if (!facts) {
            constexpr std::string_view prefix = "sluice: ";
            return fail(fmt::format("sluice: import entry {}: {}", i + 1, std::string_view(facts_error).substr(prefix.size())));
        }
        entries[i].facts = std::move(*facts);
    }
    return entries;
}

}  // namespace sluice
