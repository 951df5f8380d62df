// health: what /healthz and /readyz answer, and the readiness probe behind /readyz, which asks
// Ollama for /api/version in the background so a probe request never waits on Ollama.
#pragma once

#include "sluice/config.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

namespace sluice {

// What the probe last learned; a copy, read from any loop.
struct ReadinessSnapshot {
    std::chrono::steady_clock::time_point started;                     // the probe's start
    std::optional<std::chrono::steady_clock::time_point> answered;     // Ollama's last answer
    std::chrono::system_clock::time_point answered_wall{};             // the same, for people
    std::string version;     // from that answer, "0.12.6"
    std::string last_error;  // why the last ask failed; empty when it succeeded (or none failed yet)
};

struct HealthAnswer {
    unsigned status = 200;
    std::string body;  // JSON
};

// Pure: the answers, given what the probe knows and the time now.
HealthAnswer healthz_answer();
HealthAnswer readyz_answer(const ReadinessSnapshot& snapshot, const Config& config,
                           std::chrono::steady_clock::time_point now);

class ReadinessProbe {
public:
    static constexpr std::chrono::milliseconds default_interval{std::chrono::seconds(10)};

    // Asks every 10 s, or twice per health.ready_within when that is shorter, so one slow answer
    // cannot flip readiness on its own. The keys it reads are the start-up config's (upstream is
    // restart-only).
    explicit ReadinessProbe(std::shared_ptr<const Config> config);

    // Runs on `io` (one event loop's) from now on, asking first now. The probe is destroyed
    // before `io` (its timer lives on it).
    void start(boost::asio::io_context& io);
    void stop();   // from any thread; nothing to stop before start()
    ReadinessSnapshot snapshot() const;  // from any thread

    // The User-Agent of the probe's requests, so Ollama's logs (and test doubles) can tell them
    // from a client's /api/version.
    static constexpr std::string_view user_agent = "sluice-readiness";

private:
    boost::asio::awaitable<void> run();
    boost::asio::awaitable<void> ask();

    boost::asio::io_context* io_ = nullptr;  // set by start()
    std::shared_ptr<const Config> config_;
    std::chrono::milliseconds interval_;
    std::optional<boost::asio::steady_timer> wake_;
    bool stopped_ = false;  // loop thread only

    mutable std::mutex mutex_;  // guards the snapshot, read by every loop
    ReadinessSnapshot snapshot_;
};

}  // namespace sluice
