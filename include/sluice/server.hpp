// server: the listeners and event loops, and their lifecycle (start, stop).
//
// Each event loop is one thread with its own io_context, acceptor (SO_REUSEPORT, so the kernel
// spreads connections) and upstream pool: a connection lives on one loop from accept to close
// and nothing on the relay path is shared between threads. See docs/design.md.
#pragma once

#include "sluice/config.hpp"
#include "sluice/event_loop.hpp"
#include "sluice/model_catalog.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace sluice {

class Server {
public:
    // Binds the listeners; throws std::runtime_error naming the address when that fails.
    explicit Server(Config config);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    std::uint16_t port() const { return port_; }
    const Config& config() const { return config_; }

    void start();  // runs the event loops on their threads and returns
    void wait();   // until stop()
    void stop();   // stops accepting, closes every connection, joins the threads; idempotent

private:
    struct Loop;
    void accept(Loop& loop);

    Config config_;
    std::atomic<std::size_t> open_connections_{0};
    std::vector<std::unique_ptr<Loop>> loops_;
    std::unique_ptr<ModelCatalog> catalog_;  // runs on the first loop
    std::vector<std::thread> threads_;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopped_{false};
};

}  // namespace sluice
