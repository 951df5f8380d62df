// model_listing: Ollama's model lists cut down to what a key may use.
#include "sluice/model_listing.hpp"

#include <simdjson.h>

#include <array>
#include <span>

namespace sluice {

namespace ondemand = simdjson::ondemand;

namespace {

// An entry's model name: "" when it has none.
std::string name_of(ModelListing kind, simdjson::dom::object object) {
    static constexpr std::array<std::string_view, 2> ollama_fields{"name", "model"};
    static constexpr std::array<std::string_view, 1> openai_fields{"id"};
    const auto fields = kind == ModelListing::openai ? std::span<const std::string_view>(openai_fields)
                                                     : std::span<const std::string_view>(ollama_fields);
    std::string_view name;
    for (const auto field : fields) {
        if (object[field].get(name) == simdjson::SUCCESS && !name.empty()) return std::string(name);
    }
    return {};
}

// The same of an entry as written, read with the DOM parser (entries are small).
std::string entry_name(ModelListing kind, std::string_view entry, simdjson::dom::parser& parser) {
    simdjson::dom::object object;
    if (parser.parse(entry).get(object) != simdjson::SUCCESS) return {};
    return name_of(kind, object);
}

// The array `raw` (as written) with only the allowed entries.
std::optional<std::string> filtered_array(ModelListing kind, std::string_view raw,
                                          const std::function<bool(std::string_view)>& may_use) {
    const simdjson::padded_string padded(raw);
    ondemand::parser parser;
    simdjson::dom::parser entry_parser;
    ondemand::document document;
    ondemand::array array;
    if (parser.iterate(padded).get(document) != simdjson::SUCCESS || document.get_array().get(array) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    std::string kept = "[";
    for (auto element : array) {
        ondemand::object object;
        std::string_view entry;
        if (element.get_object().get(object) != simdjson::SUCCESS || object.raw_json().get(entry) != simdjson::SUCCESS) {
            return std::nullopt;
        }
        const auto name = entry_name(kind, entry, entry_parser);
        if (name.empty() || !may_use(name)) continue;
        if (kept.size() > 1) kept += ',';
        kept += entry;
    }
    kept += ']';
    return kept;
}

}  // namespace

std::optional<std::string> filter_model_listing(ModelListing kind, std::string_view body,
                                                const std::function<bool(std::string_view)>& may_use) {
    const std::string_view list_name = kind == ModelListing::openai ? "data" : "models";
    // Validated whole first (the walk below skips what it does not read); lists are small.
    simdjson::dom::parser validator;
    simdjson::dom::object whole;
    if (validator.parse(body).get(whole) != simdjson::SUCCESS) return std::nullopt;
    const simdjson::padded_string padded(body);
    ondemand::parser parser;
    ondemand::document document;
    ondemand::object top;
    if (kind == ModelListing::none || parser.iterate(padded).get(document) != simdjson::SUCCESS ||
        document.get_object().get(top) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    // Each list's place in the body, replaced by its filtered copy.
    std::string filtered;
    std::size_t copied = 0;
    for (auto field : top) {
        std::string_view key;
        if (field.unescaped_key().get(key) != simdjson::SUCCESS) return std::nullopt;
        if (key != list_name) continue;  // passed on as written; iterating on skips it
        ondemand::array array;
        std::string_view raw;
        if (field.value().get_array().get(array) != simdjson::SUCCESS || array.raw_json().get(raw) != simdjson::SUCCESS) {
            return std::nullopt;
        }
        auto kept = filtered_array(kind, raw, may_use);
        if (!kept) return std::nullopt;
        const auto at = static_cast<std::size_t>(raw.data() - padded.data());
        filtered.append(body.substr(copied, at - copied));
        filtered += *kept;
        copied = at + raw.size();
    }
    filtered.append(body.substr(copied));
    return filtered;
}

std::optional<std::vector<std::string>> listed_model_names(ModelListing kind, std::string_view body) {
    simdjson::dom::parser parser;
    simdjson::dom::array entries;
    if (kind == ModelListing::none ||
        parser.parse(body)[kind == ModelListing::openai ? "data" : "models"].get_array().get(entries) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    std::vector<std::string> names;
    for (const auto entry : entries) {
        simdjson::dom::object object;
        if (entry.get(object) != simdjson::SUCCESS) continue;
        auto name = name_of(kind, object);
        if (!name.empty()) names.push_back(std::move(name));
    }
    return names;
}

}  // namespace sluice
