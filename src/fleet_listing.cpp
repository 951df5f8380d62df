// fleet_listing: the fleet's merged model lists and version.
#include "sluice/fleet_listing.hpp"

#include "sluice/ascii.hpp"
#include "sluice/json_edit.hpp"

#include <simdjson.h>

#include <algorithm>
#include <unordered_map>
#include <vector>

namespace sluice {

namespace {

struct Entry {
    std::string json;  // the entry as the first backend listed it, minified, without its closing brace (never empty: it has a name)
    std::vector<std::string_view> backends;
};

// "0.12.6" -> {0, 12, 6}; a suffix ("-rc1") ends the numbers.
std::vector<unsigned long> version_numbers(std::string_view version) {
    std::vector<unsigned long> numbers;
    while (!version.empty() && is_digit(version.front())) {
        unsigned long number = 0;
        while (!version.empty() && is_digit(version.front()) && number < 1'000'000) {
            number = number * 10 + static_cast<unsigned long>(version.front() - '0');
            version.remove_prefix(1);
        }
        numbers.push_back(number);
        if (version.empty() || version.front() != '.') break;
        version.remove_prefix(1);
    }
    return numbers;
}

}  // namespace

std::optional<std::string> merge_model_listings(ModelListing kind, std::span<const BackendAnswer> answers) {
    if (kind == ModelListing::none) return std::nullopt;
    const std::string_view list_name = kind == ModelListing::openai ? "data" : "models";
    const std::string_view name_member = kind == ModelListing::openai ? "id" : "name";
    std::vector<Entry> entries;
    std::unordered_map<std::string, std::size_t> by_name;
    bool any = false;
    simdjson::dom::parser parser;
    for (const auto& answer : answers) {
        simdjson::dom::array list;
        if (answer.body.empty() || parser.parse(answer.body)[list_name].get_array().get(list) != simdjson::SUCCESS) continue;
        any = true;
        for (const auto element : list) {
            simdjson::dom::object object;
            std::string_view name;
            if (element.get(object) != simdjson::SUCCESS || object[name_member].get(name) != simdjson::SUCCESS ||
                name.empty()) {
                continue;
            }
            const auto [at, fresh] = by_name.try_emplace(std::string(name), entries.size());
            if (fresh) {
                std::string json;
                for (const auto [key, value] : object) {  // every member but ours, which only sluice sets
                    if (key == backends_member) continue;
                    json += json.empty() ? "{" : ",";
                    json += json_quote(key);
                    json += ':';
                    json += simdjson::minify(value);
                }
                entries.push_back({std::move(json), {}});
            }
            auto& backends = entries[at->second].backends;
            if (std::find(backends.begin(), backends.end(), answer.backend) == backends.end()) backends.push_back(answer.backend);
        }
    }
    if (!any) return std::nullopt;
    std::string merged = kind == ModelListing::openai ? R"({"object":"list","data":[)" : R"({"models":[)";
    for (const auto& entry : entries) {
        if (&entry != &entries.front()) merged += ',';
        merged += entry.json;
        merged += ",\"";
        merged += backends_member;
        merged += "\":[";
        for (std::size_t i = 0; i < entry.backends.size(); ++i) {
            if (i > 0) merged += ',';
            merged += json_quote(entry.backends[i]);
        }
        merged += "]}";
    }
    return merged + "]}";
}

std::optional<std::string> merge_versions(std::span<const BackendAnswer> answers) {
    std::optional<std::string> lowest;
    simdjson::dom::parser parser;
    for (const auto& answer : answers) {
        std::string_view version;
        if (answer.body.empty() || parser.parse(answer.body)["version"].get(version) != simdjson::SUCCESS) continue;
        if (!lowest || version_numbers(version) < version_numbers(*lowest)) lowest = std::string(version);
    }
    if (!lowest) return std::nullopt;
    return R"({"version":)" + json_quote(*lowest) + "}";
}

}  // namespace sluice
