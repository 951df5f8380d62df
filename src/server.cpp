// server: the listeners and event loops, and their lifecycle.
#include "sluice/server.hpp"

#include "sluice/http_session.hpp"
#include "sluice/json_error.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

namespace sluice {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Server::Loop {
    Loop(const Config& config, std::atomic<std::size_t>& open) : loop(config, open), acceptor(loop.io.get_executor()) {}
    EventLoop loop;
    Acceptor acceptor;
};

namespace {

tcp::endpoint resolve_listen(const HostPort& listen) {
    asio::io_context io;
    tcp::resolver resolver(io);
    boost::system::error_code ec;
    const auto results = resolver.resolve(listen.host, std::to_string(listen.port), tcp::resolver::passive, ec);
    if (ec || results.empty()) {
        throw std::runtime_error(fmt::format("cannot resolve listen address {}: {}", listen.host, ec.message()));
    }
    return results.begin()->endpoint();
}

void open_listener(Acceptor& acceptor, const tcp::endpoint& endpoint) {
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    const int on = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
        throw std::system_error(errno, std::generic_category(), "SO_REUSEPORT");
    }
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
}

// Past limits.max_connections a new connection gets this and is closed: a clear answer
// rather than a connection left hanging in the backlog.
const std::string& overload_response() {
    static const std::string response = [] {
        const auto body = json_error_body("sluice: too many open connections (limits.max_connections)");
        return fmt::format("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
                           "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                           body.size(), body);
    }();
    return response;
}

}  // namespace

Server::Server(Config config) : config_(std::move(config)) {
    const unsigned count = config_.threads != 0 ? config_.threads : std::max(1u, std::thread::hardware_concurrency());
    auto endpoint = resolve_listen(config_.listen);
    for (unsigned i = 0; i < count; ++i) {
        auto loop = std::make_unique<Loop>(config_, open_connections_);
        try {
            open_listener(loop->acceptor, endpoint);
        } catch (const std::exception& e) {
            throw std::runtime_error(fmt::format("cannot listen on {}:{}: {}", config_.listen.host, endpoint.port(), e.what()));
        }
        endpoint.port(loop->acceptor.local_endpoint().port());  // port 0: the others join the first's port
        loops_.push_back(std::move(loop));
    }
    port_ = endpoint.port();
    catalog_ = std::make_unique<ModelCatalog>(loops_.front()->loop.io, config_);
    for (auto& loop : loops_) loop->loop.catalog = catalog_.get();
}

Server::~Server() { stop(); }

void Server::start() {
    catalog_->start();
    for (auto& loop : loops_) {
        accept(*loop);
        threads_.emplace_back([&io = loop->loop.io] { io.run(); });
    }
    spdlog::info("sluice listening on {}:{} ({} event loop{}), ollama at {}", config_.listen.host, port_, loops_.size(),
                 loops_.size() == 1 ? "" : "s", config_.upstream.url);
}

void Server::wait() {
    for (auto& thread : threads_) {
        if (thread.joinable()) thread.join();
    }
}

void Server::stop() {
    if (stopped_.exchange(true)) return;
    catalog_->stop();
    for (auto& loop : loops_) {
        asio::post(loop->loop.io, [&l = *loop] {
            boost::system::error_code ignored;
            l.acceptor.close(ignored);
            l.loop.pool.close_idle();
            l.loop.io.stop();
        });
    }
    wait();
}

void Server::accept(Loop& loop) {
    loop.acceptor.async_accept([this, &loop](boost::system::error_code ec, Socket socket) {
        if (ec == asio::error::operation_aborted || !loop.acceptor.is_open()) return;
        if (ec) {
            // Out of file descriptors or similar: log, and try again shortly rather than spin.
            spdlog::warn("accept failed: {}", ec.message());
            auto pause = std::make_shared<asio::steady_timer>(loop.loop.io, std::chrono::milliseconds(100));
            pause->async_wait([this, &loop, pause](boost::system::error_code) { accept(loop); });
            return;
        }
        if (open_connections_.fetch_add(1) >= config_.limits.max_connections) {
            --open_connections_;
            boost::system::error_code ignored;
            socket.non_blocking(true, ignored);
            asio::write(socket, asio::buffer(overload_response()), ignored);
            socket.shutdown(tcp::socket::shutdown_both, ignored);
        } else {
            std::make_shared<HttpSession>(std::move(socket), loop.loop)->start();
        }
        accept(loop);
    });
}

}  // namespace sluice
