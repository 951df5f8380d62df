// ollama_api: the table of Ollama's routes, and the models a request names as Go decodes it.
#include "sluice/ollama_api.hpp"

#include "sluice/request_target.hpp"

#include <array>

namespace sluice {
namespace {

using enum ModelNaming;

// From Ollama's server/routes.go (up to 0.33) and shared/ollama-api.md.
constexpr std::array routes{
    //          path                        prefix read   gen    infer  models         rewrite, listing
    OllamaRoute{"/",                        false, false, false, true,  none},
    OllamaRoute{"/api/version",             false, false, false, true,  none},
    OllamaRoute{"/api/status",              false, false, false, true,  none},
    OllamaRoute{"/api/tags",                false, false, false, true,  none, RewriteRoute::none, ModelListing::ollama},
    OllamaRoute{"/api/ps",                  false, false, false, true,  none, RewriteRoute::none, ModelListing::ollama},
    OllamaRoute{"/api/chat",                false, true,  true,  true,  model,         RewriteRoute::chat},
    OllamaRoute{"/api/generate",            false, true,  true,  true,  model,         RewriteRoute::generate},
    OllamaRoute{"/api/embed",               false, true,  false, true,  model,         RewriteRoute::embed},
    OllamaRoute{"/api/embeddings",          false, true,  false, true,  model,         RewriteRoute::embeddings},
    OllamaRoute{"/api/show",                false, true,  false, true,  model_or_name},
    OllamaRoute{"/api/pull",                false, true,  false, false, model_or_name},
    OllamaRoute{"/api/push",                false, true,  false, false, model_or_name},
    OllamaRoute{"/api/delete",              false, true,  false, false, model_or_name},
    OllamaRoute{"/api/create",              false, true,  false, false, create},
    OllamaRoute{"/api/copy",                false, true,  false, false, copy},
    OllamaRoute{"/api/blobs",               true,  false, false, false, none},
    OllamaRoute{"/v1/chat/completions",     false, true,  true,  true,  model,         RewriteRoute::openai_chat},
    OllamaRoute{"/v1/completions",          false, true,  true,  true,  model,         RewriteRoute::openai_completions},
    OllamaRoute{"/v1/embeddings",           false, true,  false, true,  model},
    OllamaRoute{"/v1/responses",            false, true,  false, true,  model},
    OllamaRoute{"/v1/messages",             false, true,  false, true,  model},
    OllamaRoute{"/v1/models",               false, false, false, true,  none, RewriteRoute::none, ModelListing::openai},
    OllamaRoute{"/v1/models",               true,  false, false, true,  path_tail},
    OllamaRoute{"/v1/audio/transcriptions", false, false, false, true,  unreadable},
};

bool matches(const OllamaRoute& route, std::string_view path) {
    if (!route.prefix) return path == route.path;
    return path.size() > route.path.size() + 1 && path.starts_with(route.path) && path[route.path.size()] == '/';
}

enum class Field { absent, named, unreadable };

// A string member, as Go reads it. A member that is not a string is a 400 from Ollama; it is
// still refused here, so that no key check depends on what Ollama does with bad input.
Field read_string(const JsonObject& object, std::string_view body, std::string_view field, std::string& out) {
    const JsonMember* member = object.find_field(field);
    if (!member || member->kind == JsonKind::null) return Field::absent;
    if (member->kind != JsonKind::string) return Field::unreadable;
    out = decode_json_string(member->value.in(body));
    return Field::named;
}

}  // namespace

const OllamaRoute* find_ollama_route(std::string_view path) {
    for (const auto& route : routes) {
        if (matches(route, path)) return &route;
    }
    return nullptr;
}

RewriteRoute rewrite_route(std::string_view path) {
    const auto* route = find_ollama_route(path.substr(0, path.find('?')));
    return route ? route->rewrite : RewriteRoute::none;
}

std::string_view route_path(RewriteRoute rewrite) {
    for (const auto& route : routes) {
        if (route.rewrite == rewrite) return route.path;
    }
    return {};
}

std::optional<std::vector<std::string>> models_named(const OllamaRoute* route, std::string_view path,
                                                     std::string_view body, JsonWorkspace& workspace) {
    std::vector<std::string> models;
    if (!route || route->models == none) return models;
    if (route->models == unreadable) return std::nullopt;
    if (route->models == path_tail) {
        models.push_back(percent_decode(path.substr(route->path.size() + 1)));
        return models;
    }
    const auto request = scan_request_json(body, workspace);
    if (!request) return std::nullopt;
    const auto& top = request->top;
    // One model, from the first of `fields` that names one (Go's cmp.Or); false: unreadable.
    const auto name_from = [&](std::initializer_list<std::string_view> fields, bool optional) {
        for (const auto field : fields) {
            std::string name;
            const auto found = read_string(top, body, field, name);
            if (found == Field::unreadable) return false;
            if (found == Field::named && !name.empty()) {
                models.push_back(std::move(name));
                return true;
            }
        }
        return optional;
    };
    bool readable = false;
    switch (route->models) {
    case model: readable = name_from({"model"}, false); break;
    case model_or_name: readable = name_from({"model", "name"}, false); break;
    case create: readable = name_from({"model", "name"}, false) && name_from({"from"}, true); break;
    case copy: readable = name_from({"source"}, false) && name_from({"destination"}, false); break;
    default: break;
    }
    if (!readable) return std::nullopt;
    return models;
}

std::uint64_t conversation_mark(const OllamaRoute* route, std::string_view body, std::string_view model,
                                JsonWorkspace& workspace) {
    if (!route || (route->rewrite != RewriteRoute::chat && route->rewrite != RewriteRoute::openai_chat)) return 0;
    const auto request = scan_request_json(body, workspace);
    if (!request || !request->first_user_message || request->first_user_message->content_kind != JsonKind::string) return 0;
    // FNV-1a over the model, a separator no name holds, and the opening message as written.
    std::uint64_t hash = 14695981039346656037ull;
    const auto mix = [&](std::string_view bytes) {
        for (const unsigned char byte : bytes) hash = (hash ^ byte) * 1099511628211ull;
    };
    mix(model);
    mix(std::string_view("\0", 1));
    mix(request->first_user_message->content.in(body));
    return hash == 0 ? 1 : hash;
}

}  // namespace sluice
