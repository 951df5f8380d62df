// request_target: origin-form only, unreserved characters decoded, nothing that could route twice.
#include "sluice/request_target.hpp"

#include <fmt/format.h>

namespace sluice {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_unreserved(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

bool is_dot_segment(std::string_view segment) { return segment == "." || segment == ".."; }

}  // namespace

std::variant<std::string, TargetError> normalize_target(std::string_view raw) {
    if (raw == "*") return TargetError{"sluice: the request target * (OPTIONS *) is not supported"};
    if (!raw.starts_with('/')) {
        return TargetError{"sluice: the request target must be a path such as /api/chat (origin-form); "
                           "sluice is not a forward proxy"};
    }
    const auto query_at = raw.find('?');
    const auto path = raw.substr(0, query_at);
    std::string normalized;
    normalized.reserve(raw.size());
    constexpr std::string_view hex_digits = "0123456789ABCDEF";
    for (std::size_t i = 0; i < path.size(); ++i) {
        const auto c = static_cast<unsigned char>(path[i]);
        if (c < 0x20 || c == 0x7F) return TargetError{"sluice: the request path has a control character"};
        if (c != '%') {
            normalized += static_cast<char>(c);
            continue;
        }
        if (i + 2 >= path.size() || hex_value(path[i + 1]) < 0 || hex_value(path[i + 2]) < 0) {
            return TargetError{"sluice: the request path has a malformed percent-encoding"};
        }
        const auto decoded = static_cast<unsigned char>(hex_value(path[i + 1]) * 16 + hex_value(path[i + 2]));
        i += 2;
        if (decoded == '/') return TargetError{"sluice: the request path has an encoded '/' (%2F)"};
        if (is_unreserved(decoded)) {
            normalized += static_cast<char>(decoded);
        } else {
            normalized += '%';
            normalized += hex_digits[decoded >> 4];
            normalized += hex_digits[decoded & 0xF];
        }
    }
    for (std::size_t begin = 1; begin <= normalized.size();) {
        const auto end = std::min(normalized.find('/', begin), normalized.size());
        if (is_dot_segment(std::string_view(normalized).substr(begin, end - begin))) {
            return TargetError{"sluice: the request path has a '.' or '..' segment"};
        }
        begin = end + 1;
    }
    if (query_at != std::string_view::npos) normalized += raw.substr(query_at);
    return normalized;
}

std::string_view target_path(std::string_view target) { return target.substr(0, target.find('?')); }

std::string percent_decode(std::string_view text) {
    std::string decoded;
    decoded.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
            decoded += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
            i += 2;
        } else {
            decoded += text[i];
        }
    }
    return decoded;
}

std::optional<std::string> query_parameter(std::string_view target, std::string_view name, std::string& error) {
    const auto question = target.find('?');
    if (question == std::string_view::npos) return std::nullopt;
    std::optional<std::string> value;
    auto query = target.substr(question + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto equals = pair.find('=');
        if (pair.substr(0, equals) != name) continue;
        if (value) {
            error = fmt::format("sluice: query parameter '{}' given twice", name);
            return std::nullopt;
        }
        std::string raw(equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1));
        for (char& c : raw) {
            if (c == '+') c = ' ';
        }
        value = percent_decode(raw);
    }
    return value;
}

}  // namespace sluice
