// json_error: Ollama-style error bodies for the errors sluice itself answers.
#include "sluice/json_error.hpp"

namespace sluice {

void append_json_escaped(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (u < 0x20) {
                out += "\\u00";
                out += hex[u >> 4];
                out += hex[u & 0xF];
            } else {
                out += c;
            }
        }
    }
}

std::string json_error_body(std::string_view message) {
    std::string body = R"({"error":")";
    append_json_escaped(body, message);
    body += "\"}";
    return body;
}

}  // namespace sluice
