// server: the listeners and event loops, and their lifecycle (start, reload, drain, stop).
#include "sluice/server.hpp"

#include "sluice/http_session.hpp"
#include "sluice/ws_session.hpp"
#include "sluice/json_error.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sluice {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// A descriptor held in reserve: out of descriptors, the loop closes it to accept the waiting
// client and tell it so, rather than leave it hanging in the backlog.
class SpareDescriptor {
public:
    SpareDescriptor() { reopen(); }
    ~SpareDescriptor() { release(); }
    SpareDescriptor(const SpareDescriptor&) = delete;
    SpareDescriptor& operator=(const SpareDescriptor&) = delete;

    bool held() const { return fd_ >= 0; }
    void release() {
        if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    }
    void reopen() {
        if (fd_ < 0) fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    }

private:
    int fd_ = -1;
};

struct Server::Loop {
    Loop(std::shared_ptr<const Config> config, const LoopServices& services)
        : loop(std::move(config), services), acceptor(loop.io.get_executor()) {}
    EventLoop loop;
    Acceptor acceptor;
    SpareDescriptor spare;
    asio::steady_timer heartbeat{loop.io};
    asio::steady_timer idle_check{loop.io};
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

// No SO_REUSEPORT: a second process binding the port fails (exit 1) instead of silently
// taking part of the traffic. sluice's own loops share this one socket (share_listener).
void open_listener(Acceptor& acceptor, const tcp::endpoint& endpoint) {
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    boost::system::error_code ec;
    acceptor.bind(endpoint, ec);
    if (ec == asio::error::address_in_use) {
        throw std::runtime_error("the address is in use: another sluice, or another server, listens on it");
    }
    if (ec) throw std::system_error(ec, "bind");
    acceptor.listen(asio::socket_base::max_listen_connections);
}

// The address a socket (systemd's listener) is bound to.
tcp::endpoint endpoint_of(int socket) {
    tcp::endpoint endpoint;
    auto length = static_cast<socklen_t>(endpoint.capacity());
    if (::getsockname(socket, endpoint.data(), &length) != 0) {
        throw std::system_error(errno, std::generic_category(), "getsockname");
    }
    endpoint.resize(length);
    return endpoint;
}

tcp::endpoint inherited_endpoint(int socket) {
    try {
        return endpoint_of(socket);
    } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("cannot use the listening socket systemd passed: {}", e.what()));
    }
}

// A listening socket (the first loop's, or systemd's) duplicated for one loop: each acceptor
// owns and closes its own descriptor, and the loops take turns at the one accept queue.
// systemd's socket itself stays open in systemd for the next instance.
void share_listener(Acceptor& acceptor, int listening) {
    const auto protocol = endpoint_of(listening).protocol();
    const int fd = ::dup(listening);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "dup");
    boost::system::error_code ec;
    acceptor.assign(protocol, fd, ec);
    if (ec) {
        ::close(fd);
        throw std::system_error(ec, "assign");
    }
}

// Descriptors besides two per connection (client and Ollama): per loop its epoll, eventfd,
// timerfd, listener, spare and idle upstream connections (per backend); the catalog, the fleet's probes,
// stdio, the signal pipe, a UI file being read.
std::size_t descriptor_headroom(const Config& config, std::size_t loops) {
    return 64 + config.upstreams.size() + loops * (5 + config.upstreams.size() * config.upstream_pool.max_idle);
}

// Raises RLIMIT_NOFILE's soft limit (up to the hard limit) to what `config` needs, and returns
// the connections the limit then allows at once. systemd's default soft limit is 1024.
std::size_t fit_open_files_limit(const Config& config, std::size_t loops) {
    const auto headroom = descriptor_headroom(config, loops);
    const auto wanted = static_cast<rlim_t>(2 * config.limits.max_connections + headroom);
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return config.limits.max_connections;
    if (limit.rlim_cur < wanted) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= wanted) return config.limits.max_connections;
    const auto ceiling = limit.rlim_cur > headroom ? static_cast<std::size_t>(limit.rlim_cur - headroom) / 2 : 1;
    spdlog::warn("the open files limit (RLIMIT_NOFILE) is {} (hard limit {}): sluice serves {} connections at once, "
                 "not limits.max_connections {}, and answers 503 beyond; raise it to {} (LimitNOFILE={} in the "
                 "systemd unit, or ulimit -n)",
                 limit.rlim_cur, limit.rlim_max, ceiling, config.limits.max_connections, wanted, wanted);
    return ceiling;
}

constexpr auto drain_poll_interval = std::chrono::milliseconds(10);
constexpr auto idle_check_interval = std::chrono::seconds(1);
// After a drain's deadline the streams left are cut; this bounds the wait for them to unwind.
constexpr auto cut_grace = std::chrono::seconds(2);

// Past limits.max_connections (or what the open files limit allows), or out of descriptors, a
// new connection gets one of these and is closed: a clear answer rather than a connection left
// hanging in the backlog.
std::string overload_response(std::string_view message) {
    const auto body = json_error_body(message);
    return fmt::format("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
                       "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                       body.size(), body);
}

const std::string& too_many_connections() {
    static const std::string response = overload_response(
        "sluice: too many open connections (limits.max_connections, or what the open files limit allows)");
    return response;
}

const std::string& out_of_descriptors() {
    static const std::string response =
        overload_response("sluice: too many open files (the open files limit, RLIMIT_NOFILE, is reached)");
    return response;
}

// Writes what fits of `response` without waiting (a few hundred bytes fit a new socket's
// buffer) and closes.
void refuse(Socket& socket, const std::string& response) {
    boost::system::error_code ignored;
    socket.non_blocking(true, ignored);
    asio::write(socket, asio::buffer(response), ignored);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace

Server::Server(Config config, std::optional<int> inherited_listener)
    : config_(std::make_shared<const Config>(std::move(config))), fleet_(config_), catalog_(config_) {
    const unsigned count = config_->threads != 0 ? config_->threads : std::max(1u, std::thread::hardware_concurrency());
    connection_ceiling_ = fit_open_files_limit(*config_, count);
    // glibc gives each thread that allocates at once an arena of its own (up to 8 per core), and
    // a storm of aborted streams leaves each one grown: one per loop, and one for the rest.
    ::mallopt(M_ARENA_MAX, static_cast<int>(count + 1));
    auto endpoint = inherited_listener ? inherited_endpoint(*inherited_listener) : resolve_listen(config_->listen);
    if (endpoint.address().is_loopback()) local_names_ = LocalNames::of_this_machine();
    if (!config_->metrics.path.empty()) {
        metrics_ = std::make_unique<Metrics>();
        catalog_.on_publish([metrics = metrics_.get()](auto facts) { metrics->installed_models(std::move(facts)); });
    }
    if (config_->store.enabled) store_ = std::make_unique<ConversationStore>(config_->store);
    const LoopServices services{state_,       catalog_,      fleet_, browser_sessions_, key_limits_,
                                local_names_ ? &*local_names_ : nullptr, metrics_.get(), store_.get()};
    for (unsigned i = 0; i < count; ++i) {
        auto loop = std::make_unique<Loop>(config_, services);
        try {
            if (inherited_listener) {
                share_listener(loop->acceptor, *inherited_listener);
            } else if (loops_.empty()) {
                open_listener(loop->acceptor, endpoint);
            } else {
                share_listener(loop->acceptor, loops_.front()->acceptor.native_handle());
            }
        } catch (const std::exception& e) {
            throw std::runtime_error(inherited_listener
                                         ? fmt::format("cannot use the listening socket systemd passed: {}", e.what())
                                         : fmt::format("cannot listen on {}:{}: {}", config_->listen.host, endpoint.port(), e.what()));
        }
        endpoint = loop->acceptor.local_endpoint();
        loops_.push_back(std::move(loop));
    }
    port_ = endpoint.port();
    const auto host = endpoint.address().to_string();
    listening_on_ = endpoint.address().is_v6() ? fmt::format("[{}]:{}", host, port_) : fmt::format("{}:{}", host, port_);
    if (inherited_listener) listening_on_ += " (the socket systemd passed)";
}

Server::~Server() {
    stop();
    if (drain_thread_.joinable()) drain_thread_.join();
}

namespace {

// The last line of defence: an exception no handler caught ends the exchange whose handler
// threw (its state is released as the stack unwinds, closing its sockets), never the process;
// the loop goes on with every other connection. Each such exception is a bug to fix where it is
// thrown, so it is logged as an error.
void run_loop(asio::io_context& io) {
    for (;;) {
        try {
            io.run();
            return;
        } catch (const std::exception& error) {
            spdlog::error("an exchange failed on an unexpected exception and was closed: {}", error.what());
        } catch (...) {
            spdlog::error("an exchange failed on an unexpected exception and was closed");
        }
    }
}

}  // namespace

void Server::start() {
    catalog_.start(loops_.front()->loop.io);
    fleet_.start(loops_.front()->loop.io);
    for (auto& loop : loops_) {
        accept(*loop);
        threads_.emplace_back([&io = loop->loop.io] { run_loop(io); });
    }
    if (heartbeat_) asio::post(loops_.front()->loop.io, [this] { on_heartbeat_tick(); });
    asio::post(loops_.front()->loop.io, [this] { on_idle_check(); });
    spdlog::info("sluice listening on {}{} ({} event loop{}), {}", listening_on_,
                 config_->tls.context ? " for HTTPS" : "", loops_.size(), loops_.size() == 1 ? "" : "s",
                 describe_upstreams(*config_));
    if (store_) spdlog::info("conversations kept in {}", store_->file().string());
}

std::vector<std::string> Server::reload(Config next) {
    auto restart_needed = restart_only_changes(*config_, next);
    config_ = std::make_shared<const Config>(with_restart_only_keys_of(*config_, std::move(next)));
    connection_ceiling_ = fit_open_files_limit(*config_, loops_.size());
    for (auto& loop : loops_) {
        asio::post(loop->loop.io, [&l = loop->loop, config = config_] {
            l.config = config;
            close_revoked_websockets(l);
        });
    }
    catalog_.reconfigure(config_);
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
    // The jobs still queued run and post their answers to the stopped loops, which drop them.
    if (store_) store_->stop();
}

void Server::stop_loops() {
    if (stopped_.exchange(true)) return;
    catalog_.stop();
    fleet_.stop();
    for (auto& loop : loops_) {
        asio::post(loop->loop.io, [&l = *loop] {
            boost::system::error_code ignored;
            l.acceptor.close(ignored);
            l.heartbeat.cancel();
            l.idle_check.cancel();
            for (auto& pool : l.loop.pools) pool.close_idle();
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

// --- memory after a busy spell ----------------------------------------------------------------

// Once no exchange is in flight and no connection came for a whole interval after a busy spell,
// free memory goes back to the system: glibc keeps what a storm of streams grew its arenas to.
void Server::on_idle_check() {
    if (stopped_) return;
    const auto accepted = accepted_.load();
    const bool quiet = state_.active_exchanges == 0 && accepted == accepted_at_idle_check_;
    accepted_at_idle_check_ = accepted;
    if (!quiet) {
        busy_since_trim_ = true;
    } else if (busy_since_trim_) {
        busy_since_trim_ = false;
        ::malloc_trim(0);
    }
    auto& timer = loops_.front()->idle_check;
    timer.expires_after(idle_check_interval);
    timer.async_wait([this](boost::system::error_code ec) {
        if (!ec) on_idle_check();
    });
}

void Server::accept(Loop& loop) {
    loop.acceptor.async_accept([this, &loop](boost::system::error_code ec, Socket socket) {
        if (ec == asio::error::operation_aborted || !loop.acceptor.is_open()) return;
        const bool out_of_files =
            ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system;
        if (out_of_files && loop.spare.held()) {
            spdlog::warn("accept failed: {}; answering 503 (raise the open files limit, LimitNOFILE=)", ec.message());
            refuse_with_spare(loop);
            accept(loop);
            return;
        }
        if (ec) {
            // Out of descriptors with no spare left, or similar: try again shortly rather than spin.
            spdlog::warn("accept failed: {}", ec.message());
            auto pause = std::make_shared<asio::steady_timer>(loop.loop.io, std::chrono::milliseconds(100));
            pause->async_wait([this, &loop, pause](boost::system::error_code) {
                loop.spare.reopen();
                accept(loop);
            });
            return;
        }
        const auto max_connections = std::min(loop.loop.config->limits.max_connections, connection_ceiling_.load());
        ++accepted_;
        if (state_.open_connections.fetch_add(1) >= max_connections) {
            --state_.open_connections;
            refuse(socket, too_many_connections());
        } else {
            std::make_shared<HttpSession>(std::move(socket), loop.loop)->start();
        }
        accept(loop);
    });
}

// The spare descriptor makes room to accept the waiting client and answer it; then it is taken
// again (or, when another thread took the slot, on the next accept error).
void Server::refuse_with_spare(Loop& loop) {
    loop.spare.release();
    boost::system::error_code ec;
    Socket socket(loop.loop.io);
    loop.acceptor.non_blocking(true, ec);
    loop.acceptor.accept(socket, ec);
    boost::system::error_code ignored;
    loop.acceptor.non_blocking(false, ignored);
    if (!ec) refuse(socket, out_of_descriptors());
    socket.close(ignored);
    loop.spare.reopen();
}

}  // namespace sluice
