// server: the listeners and event loops, and their lifecycle (start, reload, drain, stop).
#include "sluice/server.hpp"

#include "sluice/http_session.hpp"
#include "sluice/ws_session.hpp"
#include "sluice/json_error.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <unistd.h>

namespace sluice {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Server::Loop {
    Loop(std::shared_ptr<const Config> config, ServerState& state)
        : loop(std::move(config), state), acceptor(loop.io.get_executor()) {}
    EventLoop loop;
    Acceptor acceptor;
    asio::steady_timer heartbeat{loop.io};
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

// systemd's socket, duplicated per loop: each acceptor owns (and closes) its own descriptor,
// while the listening socket itself stays open in systemd for the next instance.
void adopt_listener(Acceptor& acceptor, int inherited) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getsockname(inherited, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        throw std::system_error(errno, std::generic_category(), "getsockname on the inherited socket");
    }
    const int fd = ::dup(inherited);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "dup of the inherited socket");
    boost::system::error_code ec;
    acceptor.assign(address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
    if (ec) {
        ::close(fd);
        throw std::system_error(ec, "adopting the inherited socket");
    }
}

constexpr auto drain_poll_interval = std::chrono::milliseconds(10);
// After a drain's deadline the streams left are cut; this bounds the wait for them to unwind.
constexpr auto cut_grace = std::chrono::seconds(2);

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

Server::Server(Config config, std::optional<int> inherited_listener)
    : config_(std::make_shared<const Config>(std::move(config))) {
    const unsigned count = config_->threads != 0 ? config_->threads : std::max(1u, std::thread::hardware_concurrency());
    auto endpoint = inherited_listener ? tcp::endpoint{} : resolve_listen(config_->listen);
    for (unsigned i = 0; i < count; ++i) {
        auto loop = std::make_unique<Loop>(config_, state_);
        try {
            if (inherited_listener) {
                adopt_listener(loop->acceptor, *inherited_listener);
            } else {
                open_listener(loop->acceptor, endpoint);
            }
        } catch (const std::exception& e) {
            throw std::runtime_error(inherited_listener
                                         ? fmt::format("cannot use the listening socket systemd passed: {}", e.what())
                                         : fmt::format("cannot listen on {}:{}: {}", config_->listen.host, endpoint.port(), e.what()));
        }
        endpoint = loop->acceptor.local_endpoint();  // port 0: the others join the first's port
        loops_.push_back(std::move(loop));
    }
    port_ = endpoint.port();
    const auto host = endpoint.address().to_string();
    listening_on_ = endpoint.address().is_v6() ? fmt::format("[{}]:{}", host, port_) : fmt::format("{}:{}", host, port_);
    if (inherited_listener) listening_on_ += " (the socket systemd passed)";
    if (endpoint.address().is_loopback()) local_names_ = LocalNames::of_this_machine();
    catalog_ = std::make_unique<ModelCatalog>(loops_.front()->loop.io, config_);
    readiness_ = std::make_unique<ReadinessProbe>(loops_.front()->loop.io, config_);
    if (!config_->metrics.path.empty()) metrics_ = std::make_unique<Metrics>();
    for (auto& loop : loops_) {
        loop->loop.catalog = catalog_.get();
        loop->loop.readiness = readiness_.get();
        loop->loop.browser_sessions = &browser_sessions_;
        if (local_names_) loop->loop.local_names = &*local_names_;
        loop->loop.metrics = metrics_.get();
    }
}

Server::~Server() {
    stop();
    if (drain_thread_.joinable()) drain_thread_.join();
}

void Server::start() {
    catalog_->start();
    readiness_->start();
    for (auto& loop : loops_) {
        accept(*loop);
        threads_.emplace_back([&io = loop->loop.io] { io.run(); });
    }
    if (heartbeat_) asio::post(loops_.front()->loop.io, [this] { on_heartbeat_tick(); });
    spdlog::info("sluice listening on {} ({} event loop{}), ollama at {}", listening_on_, loops_.size(),
                 loops_.size() == 1 ? "" : "s", config_->upstream.url);
}

std::vector<std::string> Server::reload(Config next) {
    auto restart_needed = restart_only_changes(*config_, next);
    config_ = std::make_shared<const Config>(with_restart_only_keys_of(*config_, std::move(next)));
    for (auto& loop : loops_) {
        asio::post(loop->loop.io, [&l = loop->loop, config = config_] {
            l.config = config;
            close_revoked_websockets(l);
        });
    }
    catalog_->reconfigure(config_);
    return restart_needed;
}

void Server::wait() {
    for (auto& thread : threads_) {
        if (thread.joinable()) thread.join();
    }
}

void Server::stop() {
    stop_loops();
    wait();
}

void Server::stop_loops() {
    if (stopped_.exchange(true)) return;
    catalog_->stop();
    readiness_->stop();
    for (auto& loop : loops_) {
        asio::post(loop->loop.io, [&l = *loop] {
            boost::system::error_code ignored;
            l.acceptor.close(ignored);
            l.heartbeat.cancel();
            l.loop.pool.close_idle();
            l.loop.io.stop();
        });
    }
}

// --- drain -------------------------------------------------------------------------------------

void Server::drain(std::chrono::milliseconds timeout, std::function<void()> on_done) {
    if (state_.draining.exchange(true) || stopped_) return;
    // Closed acceptors refuse new connections (or, under socket activation, leave them queued in
    // systemd's socket for the next instance); kept-alive connections get 503 from their session.
    for (auto& loop : loops_) {
        asio::post(loop->loop.io, [&l = *loop] {
            boost::system::error_code ignored;
            l.acceptor.close(ignored);
        });
    }
    spdlog::info("draining: {} request{} in flight, waiting up to {}s", state_.active_exchanges.load(),
                 state_.active_exchanges == 1 ? "" : "s", std::chrono::duration<double>(timeout).count());
    // A helper thread waits, so that on_done may stop the server: a loop cannot join itself.
    // It polls: a drain happens once per process, and the relay path stays free of signalling.
    drain_thread_ = std::thread([this, deadline = std::chrono::steady_clock::now() + timeout, on_done = std::move(on_done)] {
        if (!wait_for_exchanges(deadline)) {
            spdlog::warn("drain timeout (timeouts.drain): cutting {} request{} still in flight",
                         state_.active_exchanges.load(), state_.active_exchanges == 1 ? "" : "s");
            cut_exchanges();
            wait_for_exchanges(std::chrono::steady_clock::now() + cut_grace);
        }
        stop_loops();
        spdlog::info("drained");
        if (on_done) on_done();
    });
}

bool Server::wait_for_exchanges(std::chrono::steady_clock::time_point deadline) const {
    while (state_.active_exchanges != 0 && !stopped_) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(drain_poll_interval);
    }
    return true;
}

void Server::cut_exchanges() {
    for (auto& loop : loops_) {
        asio::post(loop->loop.io, [&l = loop->loop] {
            // Copied: cutting a session may end it, which erases it from the set.
            const std::vector<HttpSession*> sessions(l.sessions.begin(), l.sessions.end());
            for (auto* session : sessions) {
                if (l.sessions.contains(session)) session->cut();
            }
            const std::vector<WsSession*> sockets(l.ws_sessions.begin(), l.ws_sessions.end());
            for (auto* socket : sockets) {
                if (l.ws_sessions.contains(socket)) socket->cut();
            }
        });
    }
}

// --- heartbeat ---------------------------------------------------------------------------------

void Server::heartbeat(std::chrono::microseconds interval, std::function<void()> beat) {
    heartbeat_interval_ = interval;
    heartbeat_ = std::move(beat);
    loops_answered_ = loops_.size();  // the first tick beats at once
}

// On the first loop's timer: beat only if every loop answered the previous tick's ping, then
// ping them all again. A loop stuck for two intervals therefore stops the beats.
void Server::on_heartbeat_tick() {
    if (stopped_) return;
    if (loops_answered_.exchange(0) == loops_.size()) heartbeat_();
    for (auto& loop : loops_) asio::post(loop->loop.io, [this] { ++loops_answered_; });
    auto& timer = loops_.front()->heartbeat;
    timer.expires_after(heartbeat_interval_);
    timer.async_wait([this](boost::system::error_code ec) {
        if (!ec) on_heartbeat_tick();
    });
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
        if (state_.open_connections.fetch_add(1) >= loop.loop.config->limits.max_connections) {
            --state_.open_connections;
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
