// router: what a request is, decided from its method and path alone.
#include "sluice/router.hpp"

#include <boost/beast/core/string.hpp>

#include <array>

namespace sluice {
namespace {

struct JsonRoute {
    std::string_view path;
    bool generation;
};

// The routes whose JSON body the request rewriter may change: model, options, keep_alive, think.
constexpr std::array json_routes{
    JsonRoute{"/api/chat", true},
    JsonRoute{"/api/generate", true},
    JsonRoute{"/v1/chat/completions", true},
    JsonRoute{"/v1/completions", true},
    JsonRoute{"/api/embed", false},
    JsonRoute{"/api/embeddings", false},
};

}  // namespace

std::string_view target_path(std::string_view target) {
    return target.substr(0, target.find('?'));
}

bool is_same_origin(std::string_view origin, std::string_view host) {
    if (host.empty()) return false;
    for (const std::string_view scheme : {"http://", "https://"}) {
        if (origin.size() == scheme.size() + host.size() && origin.starts_with(scheme) &&
            boost::beast::iequals(origin.substr(scheme.size()), host)) {
            return true;
        }
    }
    return false;
}

Route route_request(std::string_view method, std::string_view target, std::string_view accept, HealthPaths health,
                    std::string_view metrics_path) {
    Route route;
    const auto path = target_path(target);
    // Every method: a health path is sluice's, so a POST to it gets 405 rather than Ollama's 404.
    if (!health.healthz.empty() && path == health.healthz) {
        route.handler = Handler::healthz;
        return route;
    }
    if (!health.readyz.empty() && path == health.readyz) {
        route.handler = Handler::readyz;
        return route;
    }
    if (!metrics_path.empty() && path == metrics_path) {
        route.handler = Handler::metrics;
        return route;
    }
    if (path.starts_with(own_prefix)) {
        route.handler = path == websocket_path ? Handler::websocket
                        : path == login_path   ? Handler::login
                        : path == logout_path  ? Handler::logout
                                               : Handler::ui_asset;
        return route;
    }
    if (method == "GET" && path == "/" && accept.find("text/html") != std::string_view::npos) {
        route.handler = Handler::ui_asset;
        return route;
    }
    if (method != "POST") {
        return route;
    }
    for (const auto& candidate : json_routes) {
        if (path == candidate.path) {
            route.body = BodyHandling::read;
            route.generation = candidate.generation;
        }
    }
    return route;
}

}  // namespace sluice
