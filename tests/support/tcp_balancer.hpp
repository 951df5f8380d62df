// tcp_balancer: a tiny L4 balancer of the tests' own, what an operator puts in front of several
// sluice instances (HAProxy in TCP mode, a cloud load balancer): each connection accepted on
// loopback goes to the next backend in turn, its bytes copied both ways as they come, and a
// half-close passed on. It knows nothing of HTTP, so an instance sees every request of the
// connections it was given and nothing else.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace sluice::test {

class TcpBalancer {
public:
    explicit TcpBalancer(std::vector<std::uint16_t> backends)
        : backends_(std::move(backends)), connections_(backends_.size()),
          acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
        boost::asio::co_spawn(io_, accept(), boost::asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    ~TcpBalancer() {
        io_.stop();
        thread_.join();
    }
    TcpBalancer(const TcpBalancer&) = delete;
    TcpBalancer& operator=(const TcpBalancer&) = delete;

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    // How many connections went to backends_[i].
    std::size_t connections_to(std::size_t i) const { return connections_[i]; }

private:
    using tcp = boost::asio::ip::tcp;
    static constexpr auto nothrow = boost::asio::as_tuple(boost::asio::use_awaitable);

    boost::asio::awaitable<void> accept() {
        for (std::size_t next = 0;; next = (next + 1) % backends_.size()) {
            auto [error, client] = co_await acceptor_.async_accept(nothrow);
            if (error) co_return;
            ++connections_[next];
            boost::asio::co_spawn(io_, relay(std::move(client), backends_[next]), boost::asio::detached);
        }
    }

    boost::asio::awaitable<void> relay(tcp::socket client, std::uint16_t backend) {
        using namespace boost::asio::experimental::awaitable_operators;
        tcp::socket server(io_);
        auto [error] = co_await server.async_connect({boost::asio::ip::make_address("127.0.0.1"), backend}, nothrow);
        if (!error) co_await (copy(client, server) && copy(server, client));
    }

    static boost::asio::awaitable<void> copy(tcp::socket& from, tcp::socket& to) {
        std::array<char, 16 * 1024> buffer;
        for (;;) {
            auto [read_error, size] = co_await from.async_read_some(boost::asio::buffer(buffer), nothrow);
            if (read_error) break;
            auto [write_error, written] = co_await boost::asio::async_write(to, boost::asio::buffer(buffer.data(), size), nothrow);
            if (write_error) break;
        }
        boost::system::error_code ignored;
        to.shutdown(tcp::socket::shutdown_send, ignored);
    }

    std::vector<std::uint16_t> backends_;
    std::vector<std::atomic<std::size_t>> connections_;
    boost::asio::io_context io_;
    tcp::acceptor acceptor_;
    std::thread thread_;
};

}  // namespace sluice::test
