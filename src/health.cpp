// health: the /healthz and /readyz answers and the background /api/version probe.
#include "sluice/health.hpp"

#include "sluice/json_error.hpp"
#include "sluice/upstream_fetch.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice {

namespace asio = boost::asio;

namespace {

std::string parse_version(const std::string& json) {
    simdjson::dom::parser parser;
    simdjson::dom::element document;
    std::string_view version;
    if (parser.parse(json).get(document) != simdjson::SUCCESS ||
        document["version"].get_string().get(version) != simdjson::SUCCESS) {
        throw std::runtime_error("/api/version answered something other than {\"version\": \"...\"}");
    }
    return std::string(version);
}

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
    return {503, json_error_body(fmt::format("sluice: ollama at {} has not answered /api/version since {} ({})",
                                             config.upstream.url, since, why))};
}

ReadinessProbe::ReadinessProbe(std::shared_ptr<const Config> config)
    : config_(std::move(config)), interval_(std::min(default_interval, config_->health.ready_within / 2)) {
    snapshot_.started = std::chrono::steady_clock::now();
}

void ReadinessProbe::start(asio::io_context& io) {
    io_ = &io;
    wake_.emplace(io);
    asio::co_spawn(io, run(), asio::detached);
}

void ReadinessProbe::stop() {
    if (!io_) return;
    asio::post(*io_, [this] {
        stopped_ = true;
        wake_->cancel();
    });
}

ReadinessSnapshot ReadinessProbe::snapshot() const {
    const std::lock_guard lock(mutex_);
    return snapshot_;
}

asio::awaitable<void> ReadinessProbe::run() {
    while (!stopped_) {
        co_await ask();
        if (stopped_) break;
        wake_->expires_after(interval_);
        boost::system::error_code ignored;
        co_await wake_->async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
}

asio::awaitable<void> ReadinessProbe::ask() {
    try {
        auto version = parse_version(co_await fetch_from_upstream(
            *io_, *config_, "GET", "/api/version", {}, {.user_agent = user_agent, .response_timeout = interval_}));
        const std::lock_guard lock(mutex_);
        if (!snapshot_.answered || !snapshot_.last_error.empty()) {
            spdlog::info("ollama at {} answers (version {})", config_->upstream.url, version);
        }
        snapshot_.answered = std::chrono::steady_clock::now();
        snapshot_.answered_wall = std::chrono::system_clock::now();
        snapshot_.version = std::move(version);
        snapshot_.last_error.clear();
    } catch (const std::exception& e) {
        auto error = describe_fetch_error(e);
        const std::lock_guard lock(mutex_);
        // Once per outage, not every interval: the journal should show when it began.
        if (snapshot_.last_error.empty()) {
            spdlog::warn("ollama at {} does not answer /api/version: {}; {} answers 503", config_->upstream.url, error,
                         config_->health.readyz);
        }
        snapshot_.last_error = std::move(error);
    }
}

}  // namespace sluice
