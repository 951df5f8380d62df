// systemd: the service manager's protocols (sd_notify, the watchdog, socket activation) through
// libsystemd. Kept apart so the rest of sluice has no systemd headers; outside systemd (no
// NOTIFY_SOCKET, no LISTEN_FDS) every call here does nothing.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace sluice::systemd {

// READY=1 with a one-line STATUS= for `systemctl status`: start-up is over.
void notify_ready(std::string_view status);
// RELOADING=1 (with MONOTONIC_USEC=, which newer systemd wants) and STATUS=: a reload has begun;
// notify_ready() again when it is over, whether the new config was taken or refused.
void notify_reloading(std::string_view status);
// STOPPING=1 with STATUS=: a drain has begun.
void notify_stopping(std::string_view status);
// WATCHDOG=1: the event loops are alive.
void notify_watchdog();

// How often to send WATCHDOG=1 when the unit has WatchdogSec= (half of WATCHDOG_USEC, as
// sd_watchdog_enabled(3) advises); nothing when there is no watchdog.
std::optional<std::chrono::microseconds> watchdog_interval();

// Whether stderr is connected to the journal (JOURNAL_STREAM names it, as systemd sets it for a
// service's output): then each line should carry its syslog priority as a "<N>" prefix.
bool stderr_is_journal();

// The listening TCP socket systemd passed (sluice.socket), if any. Throws std::runtime_error
// when what was passed is not one listening stream socket.
std::optional<int> inherited_listener();

}  // namespace sluice::systemd
