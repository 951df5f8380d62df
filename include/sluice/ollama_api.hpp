// ollama_api: Ollama's routes as sluice needs to know them, in one table. The router reads
// which bodies to read whole and which responses carry generation statistics; access control
// reads which routes a `routes: chat` key may use and which body fields name models; the
// rewriter which bodies it may change; the metrics their route label. Pure: no I/O, no
// networking headers.
#pragma once

#include "sluice/json_edit.hpp"
#include "sluice/model_listing.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// Where a request names the models it uses.
enum class ModelNaming {
    none,           // it uses no model (tags, ps, version, blobs)
    model,          // "model" (chat, generate, embed, the /v1 routes)
    model_or_name,  // "model", else the older "name" (show, pull, push, delete)
    create,         // "model" or "name" (the new model), and "from" when present
    copy,           // "source" and "destination"
    path_tail,      // the path below the route (/v1/models/<model>)
    unreadable,     // a body sluice cannot read (a multipart upload)
};

// The routes whose JSON bodies the request rewriter reads and may change.
enum class RewriteRoute { none, chat, generate, openai_chat, openai_completions, embed, embeddings };

struct OllamaRoute {
    std::string_view path;
    bool prefix = false;      // matches `path` and everything below it ("/api/blobs" -> "/api/blobs/<digest>")
    bool read_body = false;   // a small JSON body, read whole (bounded) to rewrite it or check its models
    bool generation = false;  // the response ends with Ollama's statistics line (TTFT, tokens/s)
    bool inference = false;   // a `routes: chat` key may use it: runs or lists models, changes nothing installed
    ModelNaming models = ModelNaming::none;
    RewriteRoute rewrite = RewriteRoute::none;
    ModelListing listing = ModelListing::none;  // the response lists models: a key sees only its own
};

// The route of Ollama's that `path` (decoded, without query) is, or null for a path Ollama
// does not have (yet): such paths are still forwarded, but only `routes: all` keys reach them.
const OllamaRoute* find_ollama_route(std::string_view path);

// "/api/chat" -> chat; a query string is ignored; anything else -> none. And back: the path.
RewriteRoute rewrite_route(std::string_view path);
std::string_view route_path(RewriteRoute route);

// The models a request to `path` uses, decoded as Ollama's Go decoder reads them (the last
// member whose name matches case-insensitively, with Unicode's simple folding); nullopt when
// the route names models where sluice cannot read them (no JSON body, a compressed body, a
// model that is not a string). An empty list: the route uses no model.
std::optional<std::vector<std::string>> models_named(const OllamaRoute* route, std::string_view path,
                                                     std::string_view body, JsonWorkspace& workspace);

// A chat's mark for routing.sticky: its model and its first user message, hashed, the same for
// every turn of one conversation (clients send the whole history each turn). 0 for a route that
// is no chat (/api/chat, /v1/chat/completions) or a body without a first user message in text.
// A mark only places a request, so two conversations that open alike share one harmlessly.
std::uint64_t conversation_mark(const OllamaRoute* route, std::string_view body, std::string_view model,
                                JsonWorkspace& workspace);

}  // namespace sluice
