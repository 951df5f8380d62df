// time_rounds: the in-process benchmarks' timing (rewrite_bench, routing_bench): calibrate so a
// round lasts a set time, run 5 rounds, report the median, min and max per call.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

namespace sluice::bench {

using Clock = std::chrono::steady_clock;

struct Timing {
    double median_us = 0, min_us = 0, max_us = 0;
    std::size_t iterations = 0;  // per round
};

// 5 rounds of `iterations` calls each, after calibrating so a round lasts `round_seconds`.
template <typename Call>
Timing time_rounds(Call&& call, double round_seconds) {
    std::size_t iterations = 1;
    for (;;) {  // calibrate (also warms caches and the workspace)
        const auto start = Clock::now();
        for (std::size_t i = 0; i < iterations; ++i) call();
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        if (seconds >= round_seconds / 4) {
            iterations = std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(iterations) * round_seconds / seconds));
            break;
        }
        iterations *= 4;
    }
    std::vector<double> us;
    for (int round = 0; round < 5; ++round) {
        const auto start = Clock::now();
        for (std::size_t i = 0; i < iterations; ++i) call();
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count() / static_cast<double>(iterations));
    }
    std::sort(us.begin(), us.end());
    return {us[2], us.front(), us.back(), iterations};
}

}  // namespace sluice::bench
