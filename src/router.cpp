// router: what a request is, decided from its method and path alone.
#include "sluice/router.hpp"

#include "sluice/ollama_api.hpp"
#include "sluice/request_target.hpp"

#include <boost/beast/core/string.hpp>

namespace sluice {

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
                        : path.starts_with(api_prefix) ? Handler::page_api
                                               : Handler::ui_asset;
        return route;
    }
    if (method == "GET" && path == "/" && accept.find("text/html") != std::string_view::npos) {
        route.handler = Handler::ui_asset;
        return route;
    }
    // Browsers ask every site for it at the root; Ollama has none.
    if ((method == "GET" || method == "HEAD") && path == favicon_path) {
        route.handler = Handler::ui_asset;
        return route;
    }
    // Bodies sluice reads whole (to rewrite them or check their models) come with POST, or
    // DELETE for /api/delete; anything else streams, whatever Ollama will make of it.
    if (method != "POST" && method != "DELETE") return route;
    if (const OllamaRoute* ollama = find_ollama_route(path); ollama && ollama->read_body) {
        route.body = BodyHandling::read;
        route.generation = ollama->generation;
    }
    return route;
}

}  // namespace sluice
