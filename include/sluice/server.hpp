// server: the listeners and event loops, and their lifecycle (start, reload, drain, stop).
//
// Each event loop is one thread with its own io_context, acceptor (a duplicate of one listening
// socket: no other process may share the port) and upstream pool: a connection lives on one
// loop from accept to close and nothing on the relay path is shared between threads. See
// docs/design.md.
// The server knows nothing of systemd: main passes it inherited listeners and heartbeats.
#pragma once

#include "sluice/config.hpp"
#include "sluice/conversation_store.hpp"
#include "sluice/event_loop.hpp"
#include "sluice/fleet.hpp"
#include "sluice/key_limits.hpp"
#include "sluice/metrics.hpp"
#include "sluice/model_catalog.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sluice {

class Server {
public:
    // Raises the open files limit to what limits.max_connections needs (warning when the hard
    // limit is lower: connections beyond what it allows get 503) and binds one listening socket
    // that every loop accepts on; throws std::runtime_error naming the address when that fails.
    // With `inherited_listener` (a listening TCP socket passed by systemd's socket activation),
    // every loop accepts on a duplicate of it instead and config.listen is not bound.
    explicit Server(Config config, std::optional<int> inherited_listener = std::nullopt);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    std::uint16_t port() const { return port_; }

    void start();  // runs the event loops on their threads and returns
    void wait();   // until stop()
    void stop();   // stops accepting, closes every connection, joins the threads; idempotent

    // Puts `next` in force for requests that start from now on; those in flight keep the config
    // they started with. The restart-only keys keep their running values: returns the ones
    // `next` changed (see restart_only_changes), for the caller to report. One caller at a time.
    std::vector<std::string> reload(Config next);

    // Graceful shutdown: stops accepting, answers new requests with 503, lets exchanges in
    // flight finish for up to `timeout`, then cuts the rest (closing their upstream connections)
    // and stops the loops. `on_done` runs on a helper thread once the loops have stopped;
    // the caller still destroys the server (or calls stop()) to join them. Idempotent.
    void drain(std::chrono::milliseconds timeout, std::function<void()> on_done);
    bool draining() const { return state_.draining; }

    // Calls `beat` every `interval` while every event loop answers: a loop stuck in a handler
    // stops the beats, so a watchdog fed by them restarts the process. Call before start().
    void heartbeat(std::chrono::microseconds interval, std::function<void()> beat);

private:
    struct Loop;
    void accept(Loop& loop);
    void refuse_with_spare(Loop& loop);
    void on_heartbeat_tick();
    void on_idle_check();
    bool wait_for_exchanges(std::chrono::steady_clock::time_point deadline) const;
    void cut_exchanges();
    void stop_loops();

    std::shared_ptr<const Config> config_;  // the one in force; reload() replaces it
    std::atomic<std::size_t> connection_ceiling_{0};  // what the open files limit allows at once
    std::thread drain_thread_;
    std::chrono::microseconds heartbeat_interval_{0};
    std::function<void()> heartbeat_;
    std::atomic<std::size_t> loops_answered_{0};
    std::atomic<std::uint64_t> accepted_{0};  // connections accepted, for on_idle_check
    std::uint64_t accepted_at_idle_check_ = 0;  // the first loop's only
    bool busy_since_trim_ = false;              // the first loop's only
    // What the loops share (LoopServices), declared before them so that it outlives them.
    ServerState state_;
    std::unique_ptr<Metrics> metrics_;  // null when metrics.path is ""
    std::unique_ptr<ConversationStore> store_;  // null with store: off; stopped before the loops go
    BrowserSessions browser_sessions_;
    KeyLimits key_limits_;
    std::optional<LocalNames> local_names_;  // when listening on loopback
    Fleet fleet_;  // its probes run on the first loop, their timers in their own coroutine frames
    std::vector<std::unique_ptr<Loop>> loops_;
    // Run on the first loop, so destroyed before it (their timers live on its io_context); no
    // session uses them on its way out.
    ModelCatalog catalog_;
    std::vector<std::thread> threads_;
    std::uint16_t port_ = 0;
    std::string listening_on_;  // for the start-up log line
    std::atomic<bool> stopped_{false};
};

}  // namespace sluice
