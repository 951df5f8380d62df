// proc_stats: a benchmark tool's own CPU time, read from /proc, to show it is not the bottleneck.
//
// /proc/self/stat's utime+stime comes in clock ticks (10 ms), too coarse for a few seconds of a
// light load; the scheduler's sum_exec_runtime in /proc/self/task/<tid>/schedstat is the same
// quantity in nanoseconds. Both tools are single-threaded, so the main thread's figure is the
// process's. Falls back to utime+stime where schedstat is missing.
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace sluice::bench {

inline std::int64_t self_cpu_ns() {
    {
        std::ifstream sched("/proc/thread-self/schedstat");
        std::int64_t ns = -1;
        if (sched >> ns && ns >= 0) {
            return ns;
        }
    }
    std::ifstream stat("/proc/self/stat");
    std::string text;
    std::getline(stat, text);
    // Fields after the command name "(...)", which may contain spaces: state is field 3,
    // utime and stime are fields 14 and 15.
    const std::size_t close = text.rfind(')');
    if (close == std::string::npos) {
        return 0;
    }
    std::istringstream rest(text.substr(close + 2));
    std::string field;
    std::int64_t utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stoll(field);
        if (i == 15) stime = std::stoll(field);
    }
    return (utime + stime) * (1'000'000'000 / sysconf(_SC_CLK_TCK));
}

}  // namespace sluice::bench
