// upstream_pool: keep-alive connections to one Ollama, one pool per backend per event loop (no locks).
#pragma once

#include "sluice/config.hpp"
#include "sluice/net.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <functional>
#include <memory>
#include <vector>

namespace sluice {

// One TCP connection to Ollama with its read buffer.
struct UpstreamConnection {
    explicit UpstreamConnection(boost::asio::io_context& io) : stream(io.get_executor()) {}
    Stream stream;
    boost::beast::flat_buffer buffer;
    bool reused = false;  // came from the idle list: it may have been closed by Ollama meanwhile
    std::chrono::steady_clock::time_point idle_since{};
};

class UpstreamPool {
public:
    using Handler = std::function<void(boost::system::error_code, std::unique_ptr<UpstreamConnection>)>;

    // `config` is the loop's current config (read at each connect); the keys the pool reads
    // besides timeouts are restart-only, so they never change under it: `backend` indexes
    // its upstreams.
    UpstreamPool(boost::asio::io_context& io, const std::shared_ptr<const Config>& config, std::size_t backend);

    // Hands out an idle connection that is still open, or connects a new one
    // (bounded by timeouts.upstream_connect).
    void acquire(Handler handler);
    // Takes back a connection whose last exchange completed cleanly; it is closed instead when
    // the pool is full or keep-alive to Ollama is disabled.
    void release(std::unique_ptr<UpstreamConnection> connection);
    void fresh_connection(Handler handler);  // never from the idle list

    std::size_t idle_count() const { return idle_.size(); }
    void close_idle();  // at shutdown

private:
    static bool still_open(UpstreamConnection& connection);

    boost::asio::io_context& io_;
    const std::shared_ptr<const Config>& config_;
    std::size_t backend_;
    boost::asio::ip::tcp::resolver resolver_;
    std::vector<std::unique_ptr<UpstreamConnection>> idle_;  // most recently used last
};

}  // namespace sluice
