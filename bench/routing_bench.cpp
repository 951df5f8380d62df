// routing_bench: what choosing a backend costs a request in a fleet (issue 15's target: < 20 us
// per request, nothing per line). Measured in-process on sluice's real code, no sockets: the
// model read from a chat body (when the rewriter did not read it), the conversation mark
// (routing.sticky), and Fleet::route over 3 and 8 backends that each list 60 installed and 2
// loaded models, as its probes would have learned, and with a full table of conversations.
#include "sluice/config.hpp"
#include "sluice/fleet.hpp"
#include "sluice/json_edit.hpp"
#include "sluice/ollama_api.hpp"

#include "time_rounds.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

using sluice::bench::time_rounds;

// A fleet of `backends` that has learned its models; the chats' model is loaded on the last.
std::unique_ptr<sluice::Fleet> learned_fleet(std::size_t backends) {
    sluice::Config config;
    config.upstreams.clear();
    for (std::size_t i = 0; i < backends; ++i) {
        sluice::Backend backend;
        backend.url = sluice::parse_upstream_url(fmt::format("http://10.0.0.{}:11434", 11 + i));
        config.upstreams.push_back(backend);
    }
    auto fleet = std::make_unique<sluice::Fleet>(std::make_shared<const sluice::Config>(config));
    for (std::size_t i = 0; i < backends; ++i) {
        std::vector<std::string> installed;
        for (int m = 0; m < 60; ++m) installed.push_back(fmt::format("library-model-{}:{}b-q4_K_M", m, 7 + m % 5));
        std::vector<std::string> loaded{installed[i % 60], installed[(i + 7) % 60]};
        if (i + 1 == backends) loaded.emplace_back("qwen3:14b");
        installed.emplace_back("qwen3:14b");
        fleet->learned(i, "0.12.6", std::move(loaded), std::move(installed));
    }
    return fleet;
}

int usage(const char* program) {
    std::fprintf(stderr, "usage: %s [--seconds S]\n  --seconds S   time per case, split into 5 rounds (default 2)\n", program);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 2.0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--seconds" && i + 1 < argc) {
            seconds = std::strtod(argv[++i], nullptr);
        } else {
            return usage(argv[0]);
        }
    }
    if (!(seconds > 0)) return usage(argv[0]);
    const double round = seconds / 5;
    // A chat as the page sends it: a few turns, the model first.
    const std::string body =
        R"({"model":"qwen3:14b","messages":[{"role":"system","content":"You are concise."},)"
        R"({"role":"user","content":"What does a reverse proxy do with a streamed response?"},)"
        R"({"role":"assistant","content":"It passes each chunk on as it arrives, without buffering the whole body."},)"
        R"({"role":"user","content":"And when the client goes away?"}],"stream":true,"options":{"temperature":0.6}})";
    const auto* route = sluice::find_ollama_route("/api/chat");
    sluice::JsonWorkspace workspace;
    std::size_t sink = 0;

    fmt::print("\n| case | us per request, median of 5 | min / max | iterations per round |\n|---|---|---|---|\n");
    const auto row = [](std::string_view name, const sluice::bench::Timing& t) {
        fmt::print("| {} | {:.3f} | {:.3f} / {:.3f} | {} |\n", name, t.median_us, t.min_us, t.max_us, t.iterations);
    };
    row("the model a chat names (" + std::to_string(body.size()) + " B body)", time_rounds([&] {
            sink = sink + sluice::models_named(route, "/api/chat", body, workspace)->front().size();
        }, round));
    row("the chat's conversation mark (routing.sticky)", time_rounds([&] {
            sink = sink + sluice::conversation_mark(route, body, "qwen3:14b", workspace);
        }, round));
    for (const std::size_t backends : {std::size_t{1}, std::size_t{3}, std::size_t{8}}) {
        const auto fleet = learned_fleet(backends);
        row(fmt::format("Fleet::route, {} backend{}", backends, backends == 1 ? "" : "s"),
            time_rounds([&] { sink = sink + fleet->route("qwen3:14b").index[0]; }, round));
    }
    // Sticky: the mark found among a full table of remembered conversations.
    const auto fleet = learned_fleet(3);
    for (std::uint64_t mark = 1; mark <= sluice::Fleet::max_conversations; ++mark) {
        fleet->serving(mark % 3, "qwen3:14b", mark, std::chrono::minutes(30));
    }
    std::uint64_t mark = 0;
    row("Fleet::route with a conversation, 3 backends, 65,536 remembered", time_rounds([&] {
            mark = mark % sluice::Fleet::max_conversations + 1;
            sink = sink + fleet->route("qwen3:14b", mark).index[0];
        }, round));
    return sink == 42 ? 1 : 0;  // keeps the work observable
}
