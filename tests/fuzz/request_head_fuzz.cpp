// request_head_fuzz: libFuzzer target for the head of a client's request, as a session reads and
// judges it: Beast's request parser with the config's header limit (the largest it allows), the
// target's normalization, then route_request and authorize against a config with three keys.
//
// Nothing is caught: whatever throws here would abort sluice. For any bytes a client sends, the
// parse fails with an error_code, or the request is routed and either refused (401/403) or let
// through with a key that may use the path it was authorized for.
// Build, run and the long run: tests/fuzz/README.md.
#include "sluice/access_control.hpp"
#include "sluice/config.hpp"
#include "sluice/ollama_api.hpp"
#include "sluice/request_target.hpp"
#include "sluice/router.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

namespace http = boost::beast::http;

namespace {

using namespace sluice;

// The keys the dictionary (request_head.dict) presents: one per kind of `routes:`.
constexpr std::string_view all_key = "sk-sluice-00000000000000000000000000000000000000000000000000000000000000a1";
constexpr std::string_view chat_key = "sk-sluice-00000000000000000000000000000000000000000000000000000000000000c4";
constexpr std::string_view listed_key = "sk-sluice-000000000000000000000000000000000000000000000000000000000000001d";

const Config& config() {
    static const Config loaded = parse_config(fmt::format(R"(
limits:
  max_header_bytes: 64KiB
health: {{healthz: /healthz, readyz: /readyz}}
metrics: {{path: /metrics}}
auth:
  keys:
    - {{name: all, hash: "{}", routes: all, models: ["qwen3:*"]}}
    - {{name: chat, hash: "{}", routes: chat}}
    - {{name: listed, hash: "{}", routes: [/api/chat, "/v1/*"]}}
)", hash_api_key(all_key), hash_api_key(chat_key), hash_api_key(listed_key)), "request_head_fuzz.yaml");
    return loaded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static BrowserSessions sessions;
    const Config& settings = config();
    http::request_parser<http::buffer_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(settings.limits.max_header_bytes));
    parser.body_limit(boost::none);
    parser.eager(false);
    boost::beast::error_code ec;
    parser.put(boost::asio::buffer(data, size), ec);
    if (ec || !parser.is_header_done()) return 0;

    const auto& request = parser.get();
    const auto normalized = normalize_target(request.target());
    if (std::holds_alternative<TargetError>(normalized)) return 0;  // a 400
    const std::string_view target = std::get<std::string>(normalized);  // what the session routes on
    // Normalizing is idempotent, and leaves no encoding of an unreserved character or of '/'.
    if (std::get<std::string>(normalize_target(target)) != target) std::abort();
    const auto route = route_request(request.method_string(), target, request[http::field::accept],
                                     {settings.health.healthz, settings.health.readyz}, settings.metrics.path);
    const auto path = route.handler == Handler::websocket ? std::string_view("/api/chat") : target_path(target);
    const auto access = authorize(settings.auth, sessions, path, request[http::field::authorization],
                                  request[http::field::cookie]);
    if (access.status == 0 && (access.key == nullptr || !key_allows_route(*access.key, path))) std::abort();
    // A chat key reaches only the routes of Ollama's that it may use.
    if (access.status == 0 && access.key->routes == KeyRoutes::chat && route.handler == Handler::proxy) {
        const OllamaRoute* ollama = find_ollama_route(path);
        if (!ollama || !ollama->inference) std::abort();
    }
    if (access.status != 0 && access.status != 401 && access.status != 403) std::abort();
    return 0;
}
