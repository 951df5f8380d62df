// ascii: the few text helpers the config reader, the rewriter, the JSON editor and the sessions share. ASCII
// only, on purpose: what they compare (YAML words, URL schemes, model names, JSON escapes) is
// ASCII, and Go's own case folding of JSON keys is json_edit's business.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace sluice {

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_hex_digit(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
constexpr bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

constexpr bool is_ascii_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

constexpr std::string_view trim_ascii_whitespace(std::string_view s) {
    while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
    return s;
}

inline std::string ascii_lowercase(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(), ascii_lower);
    return lower;
}

inline bool equals_ignoring_ascii_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

// "a, b, c": each item (anything a std::string can append) after the separator.
std::string join(const auto& items, std::string_view separator = ", ") {
    std::string joined;
    for (const auto& item : items) {
        if (!joined.empty()) joined += separator;
        joined += item;
    }
    return joined;
}

}  // namespace sluice
