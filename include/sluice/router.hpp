// router: what a request is, decided from its method and path alone (no I/O).
//
// Today every request is proxied to Ollama; the route table is where sluice's own endpoints
// (the UI, /ws, metrics, health) slot in.
#pragma once

#include <string_view>

namespace sluice {

enum class Handler {
    proxy,  // forward to Ollama
};

// How the request body travels. `read`: sluice reads the whole body (bounded by
// limits.max_body_bytes) so a request hook can rewrite it; `stream`: it goes upstream as it
// arrives, whatever its size (blob uploads are many GiB).
enum class BodyHandling { stream, read };

struct Route {
    Handler handler = Handler::proxy;
    BodyHandling body = BodyHandling::stream;
    bool generation = false;  // the response carries generation statistics (TTFT, tok/s)
};

// `target` may carry a query string; it is ignored for routing.
Route route_request(std::string_view method, std::string_view target);

// The path part of a request target ("/api/chat?x=1" -> "/api/chat").
std::string_view target_path(std::string_view target);

}  // namespace sluice
