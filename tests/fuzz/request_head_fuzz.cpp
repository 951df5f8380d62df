// request_head_fuzz: libFuzzer target for the head of a client's request, as a session reads and
// judges it: Beast's request parser with the config's header limit (the largest it allows), then
// admission (framing, the target's normalization, route, origin, key) against a config with
// three keys.
//
// Nothing is caught: whatever throws here would abort sluice. For any bytes a client sends, the
// parse fails with an error_code, or the request is refused (400/401/403/405) or let through
// with a key that may use the path it was authorized for.
// Build, run and the long run: tests/fuzz/README.md.
#include "sluice/access_control.hpp"
#include "sluice/admission.hpp"
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

    auto& request = parser.get();
    const std::string raw_target = request.target();
    const AdmissionContext context{settings, sessions};
    const auto admission = admit(request, context);  // what the session decides
    if (const auto* refused = std::get_if<Refused>(&admission)) {
        switch (refused->status) {
        case 400: case 401: case 403: case 405: break;
        default: std::abort();
        }
        return 0;
    }
    // Past the target step: normalizing is idempotent, and leaves no encoding of an unreserved
    // character or of '/'.
    const std::string_view target = request.target();
    if (std::get<std::string>(normalize_target(target)) != target) std::abort();
    if (std::get<std::string>(normalize_target(raw_target)) != target) std::abort();
    if (std::holds_alternative<Preflight>(admission)) return 0;
    const auto& admitted = std::get<Admitted>(admission);
    const auto path = admitted.route.handler == Handler::websocket ? std::string_view("/api/chat") : target_path(target);
    const bool needs_key = admitted.route.handler == Handler::proxy || admitted.route.handler == Handler::websocket ||
                           admitted.route.handler == Handler::metrics;
    if (needs_key && (admitted.key == nullptr || !key_allows_route(*admitted.key, path))) std::abort();
    // A chat key reaches only the routes of Ollama's that it may use.
    if (admitted.key && admitted.key->routes == KeyRoutes::chat && admitted.route.handler == Handler::proxy) {
        const OllamaRoute* ollama = find_ollama_route(path);
        if (!ollama || !ollama->inference) std::abort();
    }
    return 0;
}
