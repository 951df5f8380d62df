// page_api: what the page asks sluice about itself: the key's routes and the rewriter's plan.
#include "sluice/page_api.hpp"

#include "sluice/access_control.hpp"
#include "sluice/json_edit.hpp"
#include "sluice/json_error.hpp"
#include "sluice/request_target.hpp"
#include "sluice/router.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <optional>

namespace sluice {
namespace {

// The Ollama routes the page calls (the chat goes through the WebSocket, checked as /api/chat).
constexpr std::array<std::string_view, 6> page_routes{"/api/chat", "/api/tags", "/api/ps",
                                                      "/api/show", "/api/pull", "/api/delete"};
constexpr std::size_t max_model_name = 1024;
constexpr std::size_t max_options = 4096;
constexpr std::string_view doctor_path = "/_sluice/api/doctor";

// The doctor's fixes are the admin's: keys that may use everything.
bool may_see_doctor(const ApiKey* key) { return !key || key->routes == KeyRoutes::all; }

PageApiAnswer error(unsigned status, std::string_view message) { return {status, json_error_body(message)}; }

void append_string_array(std::string& out, const std::vector<std::string>& items) {
    out += '[';
    for (const auto& item : items) {
        if (out.back() != '[') out += ',';
        out += json_quote(item);
    }
    out += ']';
}

PageApiAnswer me(const ApiKey* key, bool store) {
    std::string body = R"({"key":)";
    body += key ? json_quote(key->name) : "null";
    body += R"(,"routes":{)";
    for (const auto route : page_routes) {
        if (body.back() != '{') body += ',';
        fmt::format_to(std::back_inserter(body), R"("{}":{})", route, !key || key_allows_route(*key, route));
    }
    body += R"(},"doctor":)";
    body += may_see_doctor(key) ? "true" : "false";
    body += store ? R"(,"store":true})" : R"(,"store":false})";
    return {200, std::move(body)};
}

PageApiAnswer explain(std::string_view target, const Config& config, const ApiKey* key, const ModelFacts& facts) {
    std::string error_message;
    const auto model = query_parameter(target, "model", error_message);
    if (!error_message.empty()) return error(400, error_message);
    if (!model || model->empty()) return error(400, "sluice: /_sluice/api/explain needs ?model=<name>");
    if (model->size() > max_model_name) return error(400, "sluice: the model name is too long");
    if (!simdjson::validate_utf8(*model)) return error(400, "sluice: the model name is not UTF-8");
    for (const unsigned char c : *model) {
        if (c < 0x20 || c == 0x7f) return error(400, "sluice: the model name has a control character");
    }
    if (key && !key_allows_model(*key, *model)) {
        return error(403, fmt::format("sluice: key \"{}\" may not use model \"{}\"", key->name, *model));
    }
    // The chat's own options (the page's per-chat parameters), so forced and default options
    // show as they will apply.
    const auto options = query_parameter(target, "options", error_message);
    if (!error_message.empty()) return error(400, error_message);
    if (options) {
        simdjson::dom::parser parser;
        simdjson::dom::object object;
        if (options->size() > max_options || parser.parse(*options).get(object)) {
            return error(400, fmt::format("sluice: options is a JSON object of at most {} bytes", max_options));
        }
    }
    // A one-message chat stands in for the page's: the rules match on the model and the route.
    std::string request = R"({"model":)" + json_quote(*model) + R"(,"messages":[{"role":"user","content":"hi"}])";
    if (options) request += R"(,"options":)" + *options;
    request += '}';
    const RewriteResult result = rewrite_request("/api/chat", request, config.rewrite, facts);
    std::string runs = *model;
    for (const auto& change : result.changes) {
        if (change.starts_with("model=")) runs = change.substr(6);
    }
    std::string body = R"({"model":)" + json_quote(runs) + R"(,"changes":)";
    append_string_array(body, result.changes);
    body += R"(,"reasons":)";
    append_string_array(body, result.reasons);
    body += '}';
    return {200, std::move(body)};
}

}  // namespace

PageApiAnswer answer_page_api(std::string_view method, std::string_view target, const Config& config,
                              const ApiKey* key, const ModelFacts& facts, const DoctorFacts* doctor) {
    const auto path = target_path(target);
    const auto name = path.substr(std::min(path.size(), api_prefix.size()));
    if (!path.starts_with(api_prefix) || (name != "me" && name != "explain" && name != "doctor")) {
        return error(404, fmt::format("sluice: no such endpoint: {}", path));
    }
    if (method != "GET" && method != "HEAD") return error(405, fmt::format("sluice: {} takes GET", path));
    if (name == "me") return me(key, config.store.enabled);
    if (name == "explain") return explain(target, config, key, facts);
    if (!may_see_doctor(key)) return error(403, fmt::format("sluice: key \"{}\" may not see the doctor's findings", key->name));
    if (!doctor) return error(500, "sluice: the doctor's facts were not gathered");
    DoctorFacts gathered = *doctor;
    gathered.environment.missing = "sluice's server does not read it";
    return {200, doctor_report_json(gathered, diagnose(gathered, config.rewrite))};
}

bool page_api_wants_doctor(std::string_view method, std::string_view target, const ApiKey* key) {
    return (method == "GET" || method == "HEAD") && target_path(target) == doctor_path && may_see_doctor(key);
}

}  // namespace sluice
