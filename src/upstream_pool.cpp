// upstream_pool: keep-alive connections to Ollama, one pool per event loop.
#include "sluice/upstream_pool.hpp"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

UpstreamPool::UpstreamPool(asio::io_context& io, const std::shared_ptr<const Config>& config, std::size_t backend)
    : io_(io), config_(config), backend_(backend), resolver_(io) {}

bool UpstreamPool::still_open(UpstreamConnection& connection) {
    // Ollama may have closed an idle connection; a peek that finds EOF or an error (rather than
    // "nothing to read yet") says so before a request is written into it.
    char byte = 0;
    const auto fd = connection.stream.socket().native_handle();
    const auto n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void UpstreamPool::acquire(Handler handler) {
    const auto now = std::chrono::steady_clock::now();
    while (!idle_.empty()) {
        auto connection = std::move(idle_.back());
        idle_.pop_back();
        if (now - connection->idle_since < config_->upstream_pool.idle_timeout && still_open(*connection)) {
            connection->reused = true;
            handler({}, std::move(connection));
            return;
        }
    }
    fresh_connection(std::move(handler));
}

void UpstreamPool::fresh_connection(Handler handler) {
    auto connection = std::make_unique<UpstreamConnection>(io_);
    const auto& upstream = config_->upstreams[backend_].url;
    resolver_.async_resolve(
        upstream.host, std::to_string(upstream.port), tcp::resolver::numeric_service,
        [this, connection = std::move(connection), handler = std::move(handler)](
            boost::system::error_code ec, const tcp::resolver::results_type& endpoints) mutable {
            if (ec) {
                handler(ec, nullptr);
                return;
            }
            auto& stream = connection->stream;
            stream.expires_after(config_->timeouts.upstream_connect);
            stream.async_connect(endpoints, [connection = std::move(connection), handler = std::move(handler)](
                                                boost::system::error_code connect_ec, const tcp::endpoint&) mutable {
                if (connect_ec) {
                    handler(connect_ec, nullptr);
                    return;
                }
                boost::system::error_code ignored;
                connection->stream.socket().set_option(tcp::no_delay(true), ignored);
                connection->stream.expires_never();
                handler({}, std::move(connection));
            });
        });
}

void UpstreamPool::release(std::unique_ptr<UpstreamConnection> connection) {
    if (idle_.size() >= config_->upstream_pool.max_idle || connection->buffer.size() != 0) {
        return;  // closed by its destructor
    }
    connection->stream.expires_never();
    connection->idle_since = std::chrono::steady_clock::now();
    idle_.push_back(std::move(connection));
}

void UpstreamPool::close_idle() { idle_.clear(); }

}  // namespace sluice
