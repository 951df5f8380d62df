// router: what a request is, decided from its method and path alone (no I/O).
//
// Most requests are proxied to Ollama. sluice's own endpoints live under one fixed prefix,
// /_sluice/, that Ollama does not use; the one exception is `GET /` from a browser (its Accept
// names text/html), which gets the chat page while every other `GET /` and `HEAD /` still reaches
// Ollama ("Ollama is running"), so clients that probe it see no difference. The other exceptions
// are the health paths (health.healthz, health.readyz) and the metrics path (metrics.path),
// configurable because probes, orchestrators and Prometheus expect their own conventions.
#pragma once

#include "sluice/request_target.hpp"

#include <string_view>

namespace sluice {

enum class Handler {
    proxy,      // forward to Ollama
    websocket,  // the browser UI's WebSocket, /_sluice/ws
    login,      // the page trades a key for a session cookie, /_sluice/login
    logout,     // and ends the session, /_sluice/logout
    page_api,   // what the page asks sluice about itself, /_sluice/api/ (page_api.hpp)
    ui_asset,   // a file of the embedded page: `/` for browsers, /_sluice/<file>
    healthz,    // sluice is alive (and not draining)
    readyz,     // sluice can reach Ollama
    metrics,    // Prometheus' scrape, metrics.path
};

// Where the health endpoints are (from config.health); empty paths are never matched.
struct HealthPaths {
    std::string_view healthz;
    std::string_view readyz;
};

// sluice's own paths; fixed, so the page and the server always agree.
inline constexpr std::string_view own_prefix = "/_sluice/";
inline constexpr std::string_view websocket_path = "/_sluice/ws";
inline constexpr std::string_view login_path = "/_sluice/login";
inline constexpr std::string_view favicon_path = "/favicon.ico";  // the page's icon, served at the root
inline constexpr std::string_view logout_path = "/_sluice/logout";
inline constexpr std::string_view api_prefix = "/_sluice/api/";

// How the request body travels. `read`: sluice reads the whole body (bounded by
// limits.max_body_bytes) so a request hook can rewrite it; `stream`: it goes upstream as it
// arrives, whatever its size (blob uploads are many GiB).
enum class BodyHandling { stream, read };

struct Route {
    Handler handler = Handler::proxy;
    BodyHandling body = BodyHandling::stream;
    bool generation = false;  // the response carries generation statistics (TTFT, tok/s)
};

// `target` is normalized (request_target.hpp) and may carry a query string, ignored here.
// `accept` is the request's Accept header (only `GET /` looks at it). An empty `metrics_path` is never matched.
Route route_request(std::string_view method, std::string_view target, std::string_view accept = {},
                    HealthPaths health = {}, std::string_view metrics_path = {});

// An Origin that names the host the client addressed (http:// or https://): same-origin.
bool is_same_origin(std::string_view origin, std::string_view host);

}  // namespace sluice
