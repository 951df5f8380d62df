// router: what a request is, decided from its method and path alone.
#include "sluice/router.hpp"

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

Route route_request(std::string_view method, std::string_view target) {
    Route route;
    if (method != "POST") {
        return route;
    }
    const auto path = target_path(target);
    for (const auto& candidate : json_routes) {
        if (path == candidate.path) {
            route.body = BodyHandling::read;
            route.generation = candidate.generation;
        }
    }
    return route;
}

}  // namespace sluice
