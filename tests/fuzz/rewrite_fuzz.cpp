// rewrite_fuzz: libFuzzer target for the request rewriter.
//
// For any input the rewriter must not crash (nor trip ASan/UBSan). When it changes a body:
// the input was valid JSON, the output is valid JSON, only the top-level members a rule may
// touch differ, no internal error was reported, and rewriting the output again by the same
// rule changes nothing. The first input byte picks the route (byte % 6) and one of three rule sets
// (byte / 6 % 3); the rest is the body.
//
// Build, run and the long run: tests/fuzz/README.md.
#include "sluice/rewrite.hpp"

#include "../unit/json_properties.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace sluice;

constexpr std::array<std::string_view, 6> paths{"/api/chat", "/api/generate", "/v1/chat/completions",
                                                "/v1/completions", "/api/embed", "/api/embeddings"};

// Three rule sets between them use every key and mechanism.
constexpr std::array<std::string_view, 3> rule_sets{
    R"(
rewrite:
  gpu_memory: 24GiB
  models:
    - match: "qwen3:14b*"
      prefer: ["-fp8", "-q8_0"]
      options: {num_ctx: auto, temperature: 0.6, stop: ["\n", "User:"], num_predict: 128, num_thread: 8}
      force: [num_ctx]
      keep_alive: 30m
      think: auto
    - match: "qwen3*"
      alias: {qwen3: "qwen3:14b"}
      prefer: ["-q8_0"]
      options: {seed: 1, top_p: 0.9}
      think: on
      think_via: switch
    - match: "*"
      keep_alive: -1
      think: off
      think_via: template
      force: [think, keep_alive]
)",
    R"(
rewrite:
  gpu_memory: 16GiB
  kv_cache_type: q8_0
  models:
    - match: "*"
      options: {num_ctx: auto, use_mmap: false, stop: ["\\n\\n", two]}
      force: [num_ctx, use_mmap, think]
      think: auto
      think_via: template
      template: {system: "S:{{system}}\n", prompt: "U:{{prompt}}\nA:", think_on: "<think>", think_off: ""}
)",
    R"(
rewrite:
  gpu_memory: 8GiB
  kv_cache_type: q4_0
  models:
    - match: "?wen3:*"
      options: {num_ctx: 4096, temperature: 1.0, frequency_penalty: 0.1, presence_penalty: 0.2}
      force: [temperature, think]
      keep_alive: 5m
      think: on
      think_level: high
    - match: "*"
      think: auto
      think_via: switch
)"};

const RewriteConfig& config(std::size_t index) {
    static const std::array<RewriteConfig, 3> configs{parse_config(rule_sets[0], "fuzz0.yaml").rewrite,
                                                      parse_config(rule_sets[1], "fuzz1.yaml").rewrite,
                                                      parse_config(rule_sets[2], "fuzz2.yaml").rewrite};
    return configs[index];
}

const ModelFacts& facts() {
    static const ModelFacts installed = [] {
        ModelFacts made;
        made.known = true;
        made.models.push_back({"qwen3:14b", ModelShape{40, 8, 128, 128, 40960, 9'276'198'565}, true});
        made.models.push_back({"qwen3:14b-q8_0", ModelShape{40, 8, 128, 128, 40960, 15'718'818'517}, true});
        made.models.push_back({"nomic-embed-text:latest", ModelShape{12, 12, 64, 64, 2048, 274'302'450}, false});
        made.models.push_back({"llama3.2:3b", std::nullopt, false});
        return made;
    }();
    return installed;
}

// What a rule may touch, top level, on any route.
const std::vector<std::string> touchable{"model",  "options", "keep_alive", "think", "messages", "prompt",
                                         "system", "raw",     "reasoning_effort", "reasoning", "max_tokens",
                                         "temperature", "top_p", "seed", "stop", "frequency_penalty",
                                         "presence_penalty"};

[[noreturn]] void fail(const char* what, std::string_view body, std::string_view output) {
    std::fprintf(stderr, "rewrite_fuzz: %s\n  in:  %.*s\n  out: %.*s\n", what, static_cast<int>(body.size()), body.data(),
                 static_cast<int>(output.size()), output.data());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static JsonWorkspace workspace;  // reused, as an event loop would
    const std::string_view path = paths[data[0] % paths.size()];
    const RewriteConfig& rules = config(data[0] / paths.size() % rule_sets.size());
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

    const RewriteResult result = rewrite_request(path, body, rules, facts(), workspace);
    for (const std::string& reason : result.reasons) {
        if (reason.starts_with("internal error")) fail("internal error", body, reason);
    }
    (void)result.header_value();
    if (!result.body) return 0;

    const std::string& output = *result.body;
    if (!json_properties::is_json(body)) fail("edited a body that is not valid JSON", body, output);
    if (!json_properties::is_json(output)) fail("output is not valid JSON", body, output);
    const auto changed = json_properties::changed_members(body, output);
    if (!changed) fail("output is not an object", body, output);
    if (!json_properties::only_changed(*changed, touchable)) fail("an untouchable member changed", body, output);
    // Idempotent under the same rule. A renamed model may fall under another rule (rules match
    // the name the client asked for, once per request), which is not a second pass's business.
    const RewriteResult again = rewrite_request(path, output, rules, facts(), workspace);
    if (again.body && again.rule_line == result.rule_line) fail("a second pass changed the output again", output, *again.body);
    return 0;
}
