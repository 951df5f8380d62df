// client_stream: a client's connection, plain TCP or TLS, as one stream type, so the session,
// the relay and the WebSocket are written once for both. Deadlines (Beast's basic_stream) and
// socket options live on the TCP layer either way; TLS sits on top of it.
#pragma once

#include "sluice/net.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <memory>
#include <utility>
#include <variant>

namespace sluice {

class ClientStream {
public:
    using executor_type = LoopExecutor;
    using TlsStream = boost::beast::ssl_stream<Stream>;

    explicit ClientStream(Socket socket) : layer_(std::in_place_type<Stream>, std::move(socket)) {}

    // From here on the connection speaks TLS; the handshake is the caller's next step. The
    // context (tls.cert and tls.key of the config that accepted the connection) is kept alive
    // with it, whatever a reload does.
    void start_tls(std::shared_ptr<boost::asio::ssl::context> context) {
        auto tcp = std::move(std::get<Stream>(layer_));
        layer_.emplace<TlsStream>(std::move(tcp), *context);
        context_ = std::move(context);
    }
    bool tls() const { return std::holds_alternative<TlsStream>(layer_); }
    TlsStream& tls_stream() { return std::get<TlsStream>(layer_); }

    // Deadlines, socket options, shutdown and close.
    Stream& tcp() { return std::visit([](auto& layer) -> Stream& { return tcp_of(layer); }, layer_); }
    // Beast's get_lowest_layer() walks next_layer(): it reaches the TCP stream under TLS too.
    Stream& next_layer() { return tcp(); }
    executor_type get_executor() { return tcp().get_executor(); }

    // For Beast's HTTP and WebSocket operations: the TCP layer's deadline applies.
    template <class Buffers, class Handler>
    void async_read_some(const Buffers& buffers, Handler&& handler) {
        std::visit([&](auto& layer) { layer.async_read_some(buffers, std::forward<Handler>(handler)); }, layer_);
    }
    template <class Buffers, class Handler>
    void async_write_some(const Buffers& buffers, Handler&& handler) {
        std::visit([&](auto& layer) { layer.async_write_some(buffers, std::forward<Handler>(handler)); }, layer_);
    }

    // The relay's reads and writes while it streams, which it bounds itself (one timer per
    // stream, not one per operation): on plain TCP straight on the socket. Over TLS they pass
    // the TCP layer, whose deadline the caller must have cleared (expires_never).
    template <class Buffers, class Handler>
    void async_read_some_unbounded(const Buffers& buffers, Handler&& handler) {
        if (auto* plain = std::get_if<Stream>(&layer_)) {
            plain->socket().async_read_some(buffers, std::forward<Handler>(handler));
        } else {
            tls_stream().async_read_some(buffers, std::forward<Handler>(handler));
        }
    }
    template <class Buffers, class Handler>
    void async_write_unbounded(const Buffers& buffers, Handler&& handler) {
        if (auto* plain = std::get_if<Stream>(&layer_)) {
            boost::asio::async_write(plain->socket(), buffers, std::forward<Handler>(handler));
        } else {
            boost::asio::async_write(tls_stream(), buffers, std::forward<Handler>(handler));
        }
    }
    // Writes what the socket takes at once, without waiting: the relay's path for a client that
    // keeps up. Over TLS nothing (0): a record is written whole, by async_write_unbounded.
    std::size_t write_now(boost::asio::const_buffer bytes, boost::system::error_code& ec) {
        auto* plain = std::get_if<Stream>(&layer_);
        return plain ? plain->socket().write_some(bytes, ec) : 0;
    }

    // The WebSocket's closing handshake ends with the layer's own teardown (TLS: close_notify).
    template <class Handler>
    friend void async_teardown(boost::beast::role_type role, ClientStream& stream, Handler&& handler) {
        std::visit([&](auto& layer) { async_teardown(role, layer, std::forward<Handler>(handler)); }, stream.layer_);
    }

private:
    static Stream& tcp_of(Stream& plain) { return plain; }
    static Stream& tcp_of(TlsStream& tls) { return tls.next_layer(); }

    std::variant<Stream, TlsStream> layer_;
    std::shared_ptr<boost::asio::ssl::context> context_;
};

}  // namespace sluice
