// Integration tests of sluice under systemd's protocols, with the real binary and real tools:
// sd_notify to a datagram socket the test owns (READY, WATCHDOG, RELOADING, STOPPING), SIGHUP
// reload of the config file, and socket activation through Debian's systemd-socket-activate.
#include "child_process.hpp"
#include "fake_ollama.hpp"
#include "ports.hpp"
#include "test_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

// The socket systemd would listen on for sd_notify: each datagram is one notification.
class NotifySocket {
public:
    NotifySocket() {
        path_ = (std::filesystem::temp_directory_path() / fmt::format("sluice-notify-{}-{}", ::getpid(), counter_++)).string();
        std::filesystem::remove(path_);
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        path_.copy(address.sun_path, sizeof address.sun_path - 1);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
            throw std::runtime_error("cannot bind the notify socket " + path_);
        }
    }
    ~NotifySocket() {
        ::close(fd_);
        std::filesystem::remove(path_);
    }
    std::string environment() const { return "NOTIFY_SOCKET=" + path_; }

    // The next notification, or empty after `timeout`.
    std::string receive(std::chrono::milliseconds timeout) {
        const timeval limit{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        char buffer[4096];
        const auto size = ::recv(fd_, buffer, sizeof buffer, 0);
        return size > 0 ? std::string(buffer, static_cast<std::size_t>(size)) : std::string();
    }
    // The next notification containing `needle` (others are skipped), or empty after `timeout`.
    std::string receive_containing(std::string_view needle, std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (Clock::now() < deadline) {
            auto message = receive(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()) + 1ms);
            if (message.find(needle) != std::string::npos) return message;
        }
        return {};
    }

private:
    static inline int counter_ = 0;
    std::string path_;
    int fd_ = -1;
};

std::uint16_t port_in_status(const std::string& ready) {
    // STATUS=listening on 127.0.0.1:PORT, ollama at ...
    const auto start = ready.find("127.0.0.1:");
    if (start == std::string::npos) return 0;
    return static_cast<std::uint16_t>(std::stoul(ready.substr(start + 10)));
}

std::uint16_t free_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return acceptor.local_endpoint().port();
}

std::vector<std::string> sluice_command(const FakeOllama& ollama, std::string_view listen) {
    return {SLUICE_BINARY, "--listen", std::string(listen), "--upstream", ollama.url(), "--threads", "2"};
}

TEST(SystemdNotify, ReadyOnceServingWatchdogKeepsComingStoppingOnSigterm) {
    FakeOllama ollama;
    NotifySocket notify;
    ChildProcess sluice(sluice_command(ollama, "127.0.0.1:0"), {notify.environment(), "WATCHDOG_USEC=200000"});

    const auto ready = notify.receive_containing("READY=1", 10s);
    ASSERT_FALSE(ready.empty()) << "no READY=1 within 10s";
    EXPECT_NE(ready.find("STATUS=listening on 127.0.0.1:"), std::string::npos) << ready;
    EXPECT_NE(ready.find("ollama at " + ollama.url()), std::string::npos) << ready;
    const auto port = port_in_status(ready);
    ASSERT_NE(port, 0u) << ready;
    TestClient client(port);  // READY=1 means a request is served now, without a retry
    EXPECT_EQ(client.request("GET", "/api/version").status, 200u);

    // WATCHDOG_USEC=200ms: a beat every 100ms.
    int beats = 0;
    for (const auto until = Clock::now() + 1s; Clock::now() < until;) {
        if (notify.receive(200ms) == "WATCHDOG=1") ++beats;
    }
    EXPECT_GE(beats, 5);

    sluice.signal(SIGTERM);
    const auto stopping = notify.receive_containing("STOPPING=1", 5s);
    EXPECT_FALSE(stopping.empty()) << "no STOPPING=1 after SIGTERM";
    EXPECT_EQ(sluice.wait_exit(10s), std::optional<int>(0));
}

TEST(SystemdNotify, NoWatchdogWithoutWatchdogUsec) {
    FakeOllama ollama;
    NotifySocket notify;
    ChildProcess sluice(sluice_command(ollama, "127.0.0.1:0"), {notify.environment()});
    ASSERT_FALSE(notify.receive_containing("READY=1", 10s).empty());
    EXPECT_TRUE(notify.receive_containing("WATCHDOG=1", 500ms).empty());
    sluice.signal(SIGTERM);
    EXPECT_EQ(sluice.wait_exit(10s), std::optional<int>(0));
}

void write_file(const std::string& path, std::string_view text) {
    std::ofstream(path, std::ios::trunc) << text;
}

std::string read_file(const std::string& path) {
    std::ifstream file(path);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// `systemctl reload sluice` sends SIGHUP (ExecReload=): RELOADING=1 then READY=1 around it; the
// edited rule applies to the next request while a stream in flight completes unchanged; a file
// that fails to load is refused with a log line naming its line and key, and the old config stays.
TEST(SystemdNotify, SighupReloadsTheFileAroundReloadingAndReady) {
    FakeOllama ollama;
    ollama.set_knobs({.token_interval = 20ms, .tokens = 40});
    NotifySocket notify;
    const auto base = std::filesystem::temp_directory_path() / fmt::format("sluice-reload-{}", ::getpid());
    const auto config_path = base.string() + ".yaml";
    const auto log_path = base.string() + ".log";
    constexpr std::string_view rules = "listen: 127.0.0.1:0\nrewrite:\n  models:\n    - match: \"qwen3:*\"\n"
                                       "      options: {{num_ctx: {}}}\n";
    write_file(config_path, fmt::format(rules, 4096));
    ChildProcess sluice({SLUICE_BINARY, "--config", config_path, "--upstream", ollama.url()}, {notify.environment()},
                        log_path);
    const auto port = port_in_status(notify.receive_containing("READY=1", 10s));
    ASSERT_NE(port, 0u) << read_file(log_path);

    constexpr std::string_view chat = R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hi"}]})";
    TestClient streaming(port);
    streaming.send_raw(fmt::format("POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{}", chat.size(), chat));
    ASSERT_EQ(streaming.read_header().header("X-Sluice-Rewrite"), "num_ctx=4096");

    write_file(config_path, fmt::format(rules, 8192));
    sluice.signal(SIGHUP);
    const auto reloading = notify.receive_containing("RELOADING=1", 5s);
    EXPECT_NE(reloading.find("MONOTONIC_USEC="), std::string::npos) << reloading;
    EXPECT_NE(notify.receive_containing("READY=1", 5s).find("STATUS=listening on"), std::string::npos);
    TestClient next(port);
    EXPECT_EQ(next.request("POST", "/api/chat", chat).header("X-Sluice-Rewrite"), "num_ctx=8192");

    // A broken file: refused, the running config (num_ctx 8192) stays, systemd still hears READY=1.
    write_file(config_path, "listen: 127.0.0.1:0\ntimeouts:\n  drain: soon\n");
    sluice.signal(SIGHUP);
    EXPECT_FALSE(notify.receive_containing("RELOADING=1", 5s).empty());
    EXPECT_FALSE(notify.receive_containing("READY=1", 5s).empty());
    EXPECT_EQ(next.request("POST", "/api/chat", chat).header("X-Sluice-Rewrite"), "num_ctx=8192");

    std::string body;
    for (std::string piece; !(piece = streaming.read_body_piece()).empty();) body += piece;
    EXPECT_EQ(std::count(body.begin(), body.end(), '\n'), 41) << body;

    sluice.signal(SIGTERM);
    EXPECT_EQ(sluice.wait_exit(10s), std::optional<int>(0));
    const auto log = read_file(log_path);
    EXPECT_NE(log.find("reload refused, the running config stays: " + config_path + ":3: timeouts.drain"),
              std::string::npos)
        << log;
    std::filesystem::remove(config_path);
    std::filesystem::remove(log_path);
}

// Under systemd, stderr is a stream to journald, named by JOURNAL_STREAM: each line then starts
// with its syslog priority (journalctl shows levels and filters on them) and carries no
// timestamp of its own. Here the "journal" is the file the test reads.
TEST(Journal, LinesCarryTheirSyslogPriorityWhenStderrIsTheJournal) {
    const auto log_path = (std::filesystem::temp_directory_path() / fmt::format("sluice-journal-{}.log", ::getpid())).string();
    write_file(log_path, "");
    struct stat status {};
    ASSERT_EQ(::stat(log_path.c_str(), &status), 0);
    NotifySocket notify;
    // Nothing listens at the upstream: the readiness probe warns.
    ChildProcess sluice({SLUICE_BINARY, "--listen", "127.0.0.1:0", "--upstream", fmt::format("http://127.0.0.1:{}", free_port())},
                        {notify.environment(), fmt::format("JOURNAL_STREAM={}:{}", status.st_dev, status.st_ino)}, log_path);
    ASSERT_FALSE(notify.receive_containing("READY=1", 10s).empty());
    std::string log;
    for (const auto until = Clock::now() + 5s; Clock::now() < until && log.find("<4>") == std::string::npos;) {
        std::this_thread::sleep_for(50ms);
        log = read_file(log_path);
    }
    sluice.signal(SIGTERM);
    EXPECT_EQ(sluice.wait_exit(10s), std::optional<int>(0));
    log = read_file(log_path);
    EXPECT_NE(log.find("<6>sluice listening on 127.0.0.1:"), std::string::npos) << log;
    EXPECT_NE(log.find("<4>ollama at http://127.0.0.1:"), std::string::npos) << log;
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
        EXPECT_TRUE(line.size() > 3 && line[0] == '<' && line[2] == '>') << line;
    }
    std::filesystem::remove(log_path);
}

TEST(Journal, PlainTimestampedLinesOtherwise) {
    const auto log_path = (std::filesystem::temp_directory_path() / fmt::format("sluice-plain-{}.log", ::getpid())).string();
    NotifySocket notify;
    FakeOllama ollama;
    ChildProcess sluice(sluice_command(ollama, "127.0.0.1:0"), {notify.environment(), "JOURNAL_STREAM=1:1"}, log_path);
    ASSERT_FALSE(notify.receive_containing("READY=1", 10s).empty());
    sluice.signal(SIGTERM);
    EXPECT_EQ(sluice.wait_exit(10s), std::optional<int>(0));
    const auto log = read_file(log_path);
    EXPECT_NE(log.find(" info sluice listening on"), std::string::npos) << log;
    EXPECT_EQ(log.find("<6>"), std::string::npos) << log;
    std::filesystem::remove(log_path);
}

std::string socket_activate_binary() {
    for (const char* path : {"/usr/bin/systemd-socket-activate", "/lib/systemd/systemd-socket-activate"}) {
        if (std::filesystem::exists(path)) return path;
    }
    return {};
}

// systemd-socket-activate listens, and starts sluice only when the first connection arrives:
// that connection, made before sluice existed, must be served from the inherited socket.
TEST(SocketActivation, ConnectionMadeBeforeSluiceStartsIsServed) {
    const auto activate = socket_activate_binary();
    ASSERT_FALSE(activate.empty()) << "systemd-socket-activate not found (Debian package systemd)";
    FakeOllama ollama;
    NotifySocket notify;
    const auto port = free_port();
    auto command = sluice_command(ollama, "127.0.0.1:1");  // --listen is ignored under socket activation
    command.insert(command.begin(), {activate, "--listen", fmt::format("127.0.0.1:{}", port), "--setenv",
                                     notify.environment()});
    ChildProcess activator(command);

    const auto client = connect_when_listening(port, 5s);  // once systemd-socket-activate listens
    ASSERT_TRUE(client) << "systemd-socket-activate never listened on " << port;
    const auto response = client->request("GET", "/api/version");
    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(ollama.last_request().target, "/api/version");

    const auto ready = notify.receive_containing("READY=1", 5s);
    EXPECT_NE(ready.find(fmt::format("the socket systemd passed (port {})", port)), std::string::npos) << ready;
    activator.signal(SIGTERM);  // systemd-socket-activate execs sluice: the same process
    EXPECT_EQ(activator.wait_exit(10s), std::optional<int>(0));
}

}  // namespace
}  // namespace sluice::test
