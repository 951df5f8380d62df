// systemd: sd_notify, the watchdog and socket activation, through libsystemd.
#include "sluice/systemd.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace sluice::systemd {

namespace {

// A failed notification is logged, never fatal: sluice serves the same with or without systemd.
void notify(const std::string& state) {
    if (const int result = sd_notify(0, state.c_str()); result < 0) {
        spdlog::warn("sd_notify({}): {}", state.substr(0, state.find('\n')), std::strerror(-result));
    }
}

}  // namespace

void notify_ready(std::string_view status) { notify(fmt::format("READY=1\nSTATUS={}", status)); }

void notify_reloading(std::string_view status) {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const auto usec = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000 + static_cast<std::uint64_t>(now.tv_nsec) / 1'000;
    notify(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS={}", usec, status));
}

void notify_stopping(std::string_view status) { notify(fmt::format("STOPPING=1\nSTATUS={}", status)); }

void notify_watchdog() { notify("WATCHDOG=1"); }

std::optional<std::chrono::microseconds> watchdog_interval() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
    return std::chrono::microseconds(usec / 2);
}

bool stderr_is_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");  // "<device>:<inode>"
    struct stat status {};
    if (stream == nullptr || ::fstat(STDERR_FILENO, &status) != 0) return false;
    unsigned long long device = 0, inode = 0;
    return std::sscanf(stream, "%llu:%llu", &device, &inode) == 2 && device == status.st_dev && inode == status.st_ino;
}

std::optional<int> inherited_listener() {
    // unset_environment: the variables are for this process, not for anything it might start.
    const int count = sd_listen_fds(1);
    if (count < 0) throw std::runtime_error(fmt::format("sd_listen_fds: {}", std::strerror(-count)));
    if (count == 0) return std::nullopt;
    if (count > 1) {
        throw std::runtime_error(fmt::format(
            "systemd passed {} sockets; sluice serves one (give sluice.socket a single ListenStream=)", count));
    }
    const int fd = SD_LISTEN_FDS_START;
    if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
        throw std::runtime_error("the socket systemd passed is not a listening stream socket (ListenStream=)");
    }
    return fd;
}

}  // namespace sluice::systemd
