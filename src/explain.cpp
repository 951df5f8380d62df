// explain: the rewriter run once, as the relay runs it, with its reasons written out.
#include "sluice/explain.hpp"

#include "sluice/model_catalog.hpp"
#include "sluice/rewrite.hpp"

#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace sluice {
namespace {

// The catalog run to its first answer or failure: what a request right after start-up sees.
std::shared_ptr<const ModelFacts> fetch_model_facts(const Config& config, std::string& error) {
    boost::asio::io_context io;
    ModelCatalog catalog(std::make_shared<const Config>(config));
    catalog.start(io);
    catalog.when_ready(io.get_executor(), [&catalog] { catalog.stop(); });
    io.run();
    error = catalog.last_error();
    return catalog.facts();
}

std::string model_names(const ModelFacts& facts) {
    std::string names;
    for (const InstalledModel& model : facts.models) {
        if (!names.empty()) names += ", ";
        names += model.name;
    }
    return names;
}

}  // namespace

Explanation explain_request(const Config& config, std::string_view config_source, std::string_view path,
                            std::string_view body) {
    Explanation explanation{std::string(body), {}};
    auto& lines = explanation.lines;
    if (config.rewrite.models.empty()) {
        lines.push_back(fmt::format("no rewrite rules (rewrite.models) in {}: the body goes to Ollama unchanged", config_source));
        return explanation;
    }
    if (rewrite_route(path) == RewriteRoute::none) {
        lines.push_back(fmt::format("{} is not a route sluice rewrites: the body goes to Ollama unchanged", path));
        return explanation;
    }

    std::string error;
    const auto facts = fetch_model_facts(config, error);
    if (facts->known) {
        lines.push_back(fmt::format("ollama at {}: {} installed: {}", config.upstream().url, facts->models.size(),
                                    model_names(*facts)));
    } else {
        lines.push_back(fmt::format("ollama at {} cannot say what is installed ({}): explaining without model facts, "
                                    "so prefer and num_ctx: auto change nothing",
                                    config.upstream().url, error));
    }

    const RewriteResult result = rewrite_request(path, body, config.rewrite, *facts);
    const auto rule = std::find_if(config.rewrite.models.begin(), config.rewrite.models.end(),
                                   [&](const RewriteRule& candidate) { return candidate.line == result.rule_line; });
    if (result.rule_line != 0 && rule != config.rewrite.models.end()) {
        lines.push_back(fmt::format("rule: {}:{}: match \"{}\"", config_source, result.rule_line, rule->match));
    } else {
        lines.push_back("rule: none matches");
    }
    for (const std::string& change : result.changes) lines.push_back("change: " + change);
    if (result.body) {
        lines.push_back("X-Sluice-Rewrite: " + result.header_value());
        explanation.body = *result.body;
    } else {
        lines.push_back("unchanged: the body goes to Ollama as it is");
    }
    for (const std::string& reason : result.reasons) lines.push_back("reason: " + reason);
    return explanation;
}

}  // namespace sluice
