// explain: `sluice explain`: what the rewrite rules do to one request body, and why.
#pragma once

#include "sluice/config.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace sluice {

struct Explanation {
    std::string body;                // as it would go to Ollama: the rewritten body, or the original
    std::vector<std::string> lines;  // for people: what Ollama has, the rule, each change and reason
};

// Rewrites `body` as sluice would for a request to `path`, with the installed models Ollama
// (config.upstream) reports now, asked once through a ModelCatalog and bounded by its timeouts.
// When Ollama cannot be asked, the lines say so and the rules that need model facts (prefer,
// num_ctx: auto, the thinking capability) change nothing. `config_source` names the config
// file in the line saying which rule matched ("sluice.yaml:12").
Explanation explain_request(const Config& config, std::string_view config_source, std::string_view path,
                            std::string_view body);

}  // namespace sluice
