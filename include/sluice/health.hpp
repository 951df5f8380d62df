// health: what /healthz and /readyz answer. The fleet's probes (fleet.hpp) ask Ollama for
// /api/version in the background, so a probe request never waits on Ollama.
#pragma once

#include "sluice/config.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace sluice {

// What a probe last learned of one Ollama; a copy, read from any loop.
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

}  // namespace sluice
