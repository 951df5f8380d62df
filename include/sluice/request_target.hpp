// request_target: the one form of a request-target that sluice routes, authorizes and forwards.
//
// Ollama (Go's net/http, then Gin) routes on the percent-decoded path, so a check on the raw
// target could be walked around with `/api/%70ull` or `/api/blobs%2f...`. sluice therefore
// accepts only origin-form targets (a path, then an optional query), decodes the percent-
// encodings of unreserved characters (RFC 3986 2.3) in the path, and refuses what could make
// sluice and Ollama disagree about the path: an encoded '/', a '.' or '..' segment, a bad
// percent-encoding, a control character. What is left encoded cannot spell any route name.
// The normalized target is then what sluice routes on, authorizes and sends to Ollama.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace sluice {

struct TargetError {
    std::string message;  // for {"error": ...}, with a 400
};

// `raw` as the client sent it -> the target to route on and forward, or why it is refused.
std::variant<std::string, TargetError> normalize_target(std::string_view raw);

// The path part of a request target ("/api/chat?x=1" -> "/api/chat").
std::string_view target_path(std::string_view target);

// Every %XX decoded (a name in a path, such as /v1/models/<model>); bad escapes are kept.
std::string percent_decode(std::string_view text);

// The value of query parameter `name` in `target` (form-decoded: '+' is a space), nullopt when
// absent; `error` is set when it comes twice, so sluice and the page never disagree about which
// one counts.
std::optional<std::string> query_parameter(std::string_view target, std::string_view name, std::string& error);

}  // namespace sluice
