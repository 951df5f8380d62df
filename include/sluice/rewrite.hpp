// rewrite: pure request rewriting: (route, body, rules, model facts) -> new body + reasons.
//
// The first rule of rewrite.models whose `match` fits the requested model applies:
//   model       alias (exact rename), then prefer (the first installed "<name:tag><suffix>")
//   options     defaults set where the client set none (a JSON null counts as none); `force`d
//               keys replace the client's value. num_ctx: auto is computed per model
//               (kv_budget.hpp), so it is one stable value for a model, never per request.
//   keep_alive  the same, for the top-level keep_alive
//   think       on / off / auto (thinking.hpp) through think_via:
//                 field     "think": true/false (or think_level)
//                 switch    " /think" or " /no_think" appended to the last user message
//                           (chat) or the prompt (generate)
//                 template  /api/generate only: raw: true, the prompt built from the rule's
//                           ChatML template with the assistant turn prefilled; other routes use
//                           field instead and say so
//               The client's own choice wins unless the rule forces think: a "think" field,
//               reasoning_effort / reasoning on /v1, a /think or /no_think in the text, or
//               raw: true on /api/generate. Models whose card lacks the "thinking"
//               capability are left alone (Ollama answers 400 to think: true there).
// Routes:
//   /api/chat, /api/generate        everything above
//   /api/embed, /api/embeddings     model, options (num_ctx too), keep_alive
//   /v1/chat/completions            model; options that have an OpenAI field (num_predict ->
//   /v1/completions                 max_tokens, temperature, top_p, seed, stop,
//                                   frequency_penalty, presence_penalty); think via field is
//                                   reasoning_effort on /v1/chat/completions (think_level or
//                                   "medium" for on, "none" for off; releases that predate it
//                                   ignore it) or via switch; /v1/completions has no field.
//                                   num_ctx, the other options and keep_alive have no field
//                                   there: skipped, and the reasons say so.
// A body that is not a valid JSON object, or a request no rule matches, goes up unchanged.
#pragma once

#include "sluice/config.hpp"
#include "sluice/json_edit.hpp"
#include "sluice/kv_budget.hpp"
#include "sluice/ollama_api.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// What the model catalog knows about one installed model.
struct InstalledModel {
    std::string name;                  // as /api/tags lists it: "qwen3:14b", "nomic-embed-text:latest"
    std::optional<ModelShape> shape;   // from /api/show + the size in /api/tags; needed by num_ctx: auto
    std::optional<bool> thinking;      // "thinking" in /api/show's (or /api/tags') capabilities

    bool operator==(const InstalledModel&) const = default;
};

// A snapshot of the catalog, filled by model_catalog and read by every rewrite.
struct ModelFacts {
    bool known = false;  // false until /api/tags answered once; prefer then changes nothing
    std::vector<InstalledModel> models;

    // By name as a client writes it: "qwen3" finds "qwen3:latest"; ASCII case-insensitive.
    const InstalledModel* find(std::string_view name) const;
};

// An InstalledModel from /api/tags' name and size and that model's /api/show body.
InstalledModel installed_model_from_show(std::string name, std::uint64_t size, std::string_view show_json);

struct RewriteResult {
    std::optional<std::string> body;   // nullopt: forward the original buffer as it is
    std::vector<std::string> changes;  // "model=qwen3:14b-q8_0", "num_ctx=40960", "think=off"
    std::vector<std::string> reasons;  // sentences for a debug log line and `sluice explain`
    int rule_line = 0;                 // the config line of the rule that matched; 0 = none
    std::string model;                 // the model the request named, decoded; empty when not read

    // The X-Sluice-Rewrite header: the changes joined with "; " (printable ASCII only).
    std::string header_value() const;
};

// Rewrites one request body. `path` is the request target's path ("/api/chat"; a query is
// ignored). Cheap when nothing applies: no rules, or a route that is not rewritten, returns
// before any parsing. `workspace` holds reusable parser memory (one per event loop).
RewriteResult rewrite_request(std::string_view path, std::string_view body, const RewriteConfig& config,
                              const ModelFacts& facts, JsonWorkspace& workspace);

// The same with a workspace of its own (tests, `sluice explain`).
RewriteResult rewrite_request(std::string_view path, std::string_view body, const RewriteConfig& config,
                              const ModelFacts& facts);

}  // namespace sluice
