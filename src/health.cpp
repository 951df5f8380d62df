// health: the /healthz and /readyz answers.
#include "sluice/health.hpp"

#include "sluice/json_error.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace sluice {

namespace {

long long whole_seconds(std::chrono::steady_clock::duration duration) {
    return std::chrono::duration_cast<std::chrono::seconds>(duration).count();
}

// As the config file writes it: "30s", or "400ms" when not whole seconds.
std::string format_duration(std::chrono::milliseconds duration) {
    return duration.count() % 1000 == 0 ? fmt::format("{}s", duration.count() / 1000) : fmt::format("{}ms", duration.count());
}

}  // namespace

HealthAnswer healthz_answer() { return {200, R"({"status":"ok"})"}; }

HealthAnswer readyz_answer(const ReadinessSnapshot& snapshot, const Config& config,
                           std::chrono::steady_clock::time_point now) {
    if (snapshot.answered && now - *snapshot.answered <= config.health.ready_within) {
        std::string body = R"({"status":"ready","ollama":")";
        append_json_escaped(body, snapshot.version);
        body += "\"}";
        return {200, std::move(body)};
    }
    const auto since =
        snapshot.answered
            ? fmt::format("{:%Y-%m-%dT%H:%M:%SZ} ({}s ago; health.ready_within is {})",
                          std::chrono::floor<std::chrono::seconds>(snapshot.answered_wall),
                          whole_seconds(now - *snapshot.answered), format_duration(config.health.ready_within))
            : fmt::format("sluice started {}s ago", whole_seconds(now - snapshot.started));
    const auto why = snapshot.last_error.empty() ? std::string("no answer yet") : "last error: " + snapshot.last_error;
    const auto who = config.upstreams.size() == 1
                         ? fmt::format("ollama at {} has", config.upstream().url)
                         : fmt::format("none of the {} ollamas of upstreams: has", config.upstreams.size());
    return {503, json_error_body(fmt::format("sluice: {} not answered /api/version since {} ({})", who, since, why))};
}

}  // namespace sluice
