// json_error: Ollama-style error bodies, {"error": "..."}, for the errors sluice itself answers.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Appends `text` to `out` as the inside of a JSON string (quotes, backslashes, controls escaped;
// a byte that is not part of well-formed UTF-8 becomes U+FFFD), so the result is always valid JSON.
void append_json_escaped(std::string& out, std::string_view text);

// {"error":"<message>"} with the message escaped.
std::string json_error_body(std::string_view message);

}  // namespace sluice
