// json_properties: what any rewrite must keep, checked by unit tests and the fuzz target alike:
// the output is valid JSON, and top-level members the rewrite did not touch are byte-identical.
#pragma once

#include "sluice/json_edit.hpp"

#include <simdjson.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::json_properties {

inline bool is_json(std::string_view text) {
    simdjson::dom::parser parser;
    simdjson::dom::element element;
    return parser.parse(text.data(), text.size()).get(element) == simdjson::SUCCESS;
}

// The names of top-level members whose bytes differ between `before` and `after` (present in
// one only, or with other values, duplicates compared in order); nullopt if either is not an
// object the scanner reads.
inline std::optional<std::vector<std::string>> changed_members(std::string_view before, std::string_view after) {
    JsonWorkspace workspace;
    const auto old_json = scan_request_json(before, workspace);
    const auto new_json = scan_request_json(after, workspace);
    if (!old_json || !new_json) return std::nullopt;
    const auto values = [](std::string_view body, const JsonObject& object, const std::string& name) {
        std::vector<std::string_view> found;
        for (const JsonMember& member : object.members) {
            if (member.name == name) found.push_back(member.value.in(body));
        }
        return found;
    };
    std::vector<std::string> changed;
    for (const auto* side : {&*old_json, &*new_json}) {
        for (const JsonMember& member : side->top.members) {
            if (std::find(changed.begin(), changed.end(), member.name) != changed.end()) continue;
            if (values(before, old_json->top, member.name) != values(after, new_json->top, member.name)) {
                changed.push_back(member.name);
            }
        }
    }
    std::sort(changed.begin(), changed.end());
    return changed;
}

// Every name in `changed` is one of `allowed`, ASCII case aside (Go reads "Model" as model).
inline bool only_changed(const std::vector<std::string>& changed, const std::vector<std::string>& allowed) {
    const auto same = [](std::string_view a, std::string_view b) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
    };
    return std::all_of(changed.begin(), changed.end(), [&](const std::string& name) {
        return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& a) { return same(a, name); });
    });
}

}  // namespace sluice::json_properties
