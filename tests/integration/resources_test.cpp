// Integration tests of sluice's hold on the machine's resources, with the real binary (or a
// forked server) on loopback: its port is its own, and the open files limit is raised to what
// limits.max_connections needs, or, when it cannot be, clients past it get 503 and never hang.
#include "child_process.hpp"
#include "fake_ollama.hpp"
#include "ports.hpp"
#include "test_client.hpp"

#include "sluice/server.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

std::string read_text(const std::string& path) {
    std::stringstream text;
    text << std::ifstream(path).rdbuf();
    return text.str();
}

// A temporary file path of this test's own.
std::string scratch(std::string_view suffix) {
    return (std::filesystem::temp_directory_path() /
            fmt::format("sluice-{}-{}{}", testing::UnitTest::GetInstance()->current_test_info()->name(), ::getpid(), suffix))
        .string();
}

// sluice under `sh -c 'ulimit ...; exec sluice'`, so that its pid is sluice's.
std::vector<std::string> with_ulimits(std::string_view ulimits, const std::string& arguments) {
    return {"/bin/sh", "-c", fmt::format("{} && exec '{}' {}", ulimits, SLUICE_BINARY, arguments)};
}

TEST(Resources, ASecondSluiceOnTheSamePortExitsOneAndTheFirstKeepsServing) {
    FakeOllama ollama;
    const auto port = closed_loopback_port();
    const auto arguments = fmt::format("--listen 127.0.0.1:{} --upstream {} --threads 2", port, ollama.url());
    ChildProcess first({"/bin/sh", "-c", fmt::format("exec '{}' {}", SLUICE_BINARY, arguments)});
    ASSERT_TRUE(connect_when_listening(port, 5s)) << "the first sluice never listened";

    const auto second = run_sluice_to_end(arguments);
    EXPECT_EQ(second.status, 1) << second.output;
    EXPECT_NE(second.output.find(fmt::format("cannot listen on 127.0.0.1:{}: the address is in use", port)),
              std::string::npos)
        << second.output;
    // Every new connection reaches the first (none is queued at a second that went away).
    for (int i = 0; i < 8; ++i) {
        TestClient client(port);
        EXPECT_EQ(client.request("GET", "/api/version").status, 200u);
    }
}

TEST(Resources, TheOpenFilesLimitIsRaisedToWhatMaxConnectionsNeeds) {
    rlimit limit{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < 1024) GTEST_SKIP() << "hard limit " << limit.rlim_max;
    FakeOllama ollama;
    const auto port = closed_loopback_port();
    const auto config = scratch(".yaml");
    const auto log = scratch(".log");
    std::ofstream(config) << fmt::format("listen: 127.0.0.1:{}\nupstream: {}\nthreads: 1\nlimits:\n  max_connections: 300\n",
                                         port, ollama.url());
    ChildProcess sluice(with_ulimits("ulimit -Sn 64", "--config '" + config + "'"), {}, log);
    ASSERT_TRUE(connect_when_listening(port, 5s)) << read_text(log);
    const auto limits = read_text(fmt::format("/proc/{}/limits", sluice.pid()));
    std::smatch soft;
    ASSERT_TRUE(std::regex_search(limits, soft, std::regex(R"(Max open files\s+(\d+))"))) << limits;
    EXPECT_GE(std::stoul(soft[1]), 600u) << limits;  // two per connection, and then some
    EXPECT_EQ(read_text(log).find("RLIMIT_NOFILE"), std::string::npos) << read_text(log);
    std::filesystem::remove(config);
    std::filesystem::remove(log);
}

TEST(Resources, BelowWhatMaxConnectionsNeedsItWarnsAndAnswers503PastWhatTheLimitAllows) {
    FakeOllama ollama;
    const auto port = closed_loopback_port();
    const auto log = scratch(".log");
    ChildProcess sluice(with_ulimits("ulimit -Sn 256 && ulimit -Hn 256",
                                     fmt::format("--listen 127.0.0.1:{} --upstream {} --threads 1", port, ollama.url())),
                        {}, log);
    auto first = connect_when_listening(port, 5s);
    ASSERT_TRUE(first) << read_text(log);
    const auto said = read_text(log);
    std::smatch ceiling;
    ASSERT_TRUE(std::regex_search(said, ceiling, std::regex(R"(sluice serves (\d+) connections at once)"))) << said;
    EXPECT_NE(said.find("LimitNOFILE="), std::string::npos) << said;
    const auto allowed = std::stoul(ceiling[1]);
    ASSERT_GT(allowed, 2u);
    ASSERT_LT(allowed, 128u);

    std::vector<std::unique_ptr<TestClient>> open;
    for (std::size_t i = 1; i < allowed; ++i) open.push_back(std::make_unique<TestClient>(port));
    for (int i = 0; i < 3; ++i) {
        TestClient over(port);
        over.send_raw("GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        const auto response = over.read_response(false, 2s);
        EXPECT_EQ(response.status, 503u);
        EXPECT_NE(response.body.find("sluice: too many open connections"), std::string::npos) << response.body;
    }
    EXPECT_EQ(first->request("GET", "/api/version").status, 200u);  // those within it are served
    std::filesystem::remove(log);
}

// Out of descriptors altogether (some other use took them), the client waiting to be accepted
// gets a 503 from the spare descriptor, not a connection left hanging in the backlog. The
// server runs in a forked child that then uses up its descriptors, once nothing it holds is
// about to be closed (a descriptor freed after the child took the others would let a client in).
TEST(Resources, OutOfDescriptorsAClientGets503InsteadOfHanging) {
#if defined(__SANITIZE_ADDRESS__)
    // The sanitizers' runtime opens a pipe to check memory (UBSan's vptr check) and files to
    // report: with no descriptor left it reports an invalid vptr and aborts the child.
    GTEST_SKIP() << "needs a process with no free descriptor, where the sanitizers cannot run; build/ runs it";
#endif
    int to_parent[2];
    int to_child[2];
    ASSERT_EQ(::pipe(to_parent), 0);
    ASSERT_EQ(::pipe(to_child), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(to_parent[0]);
        ::close(to_child[1]);
        try {
            const rlimit limit{256, 256};
            ::setrlimit(RLIMIT_NOFILE, &limit);
            Config config;
            config.listen = {"127.0.0.1", 0};
            config.upstreams = single_upstream(parse_upstream_url(fmt::format("http://127.0.0.1:{}", closed_loopback_port())));
            config.threads = 1;
            Server server(config);
            server.start();
            const auto port = server.port();
            char go = 0;
            if (::write(to_parent[1], &port, sizeof port) != sizeof port || ::read(to_child[0], &go, 1) != 1) ::_exit(1);
            // Every descriptor taken, and taken again until a while passes with none freed.
            for (bool took = true; took; std::this_thread::sleep_for(200ms)) {
                took = false;
                while (::dup(to_parent[1]) >= 0) took = true;
            }
            if (::write(to_parent[1], &go, 1) != 1) ::_exit(1);
            std::this_thread::sleep_for(60s);  // killed by the parent
        } catch (...) {
        }
        ::_exit(1);
    }
    ::close(to_parent[1]);
    ::close(to_child[0]);
    std::uint16_t port = 0;
    ASSERT_EQ(::read(to_parent[0], &port, sizeof port), static_cast<ssize_t>(sizeof port));
    // The readiness probe's first ask (a socket to the closed upstream port) is over once /readyz
    // reports its error; this connection closes before the descriptors are taken.
    for (auto deadline = Clock::now() + 10s;;) {
        TestClient probe(port);
        probe.send_raw("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        const auto readiness = probe.read_response();
        ASSERT_TRUE(probe.wait_closed(5s));
        if (readiness.body.find("last error") != std::string::npos) break;
        ASSERT_LT(Clock::now(), deadline) << readiness.body;
        std::this_thread::sleep_for(20ms);
    }
    char go = 1;
    ASSERT_EQ(::write(to_child[1], &go, 1), 1);
    ASSERT_EQ(::read(to_parent[0], &go, 1), 1);
    for (int i = 0; i < 3; ++i) {  // the spare is taken again after each
        TestClient client(port);
        const auto response = client.read_response(false, 2s);
        EXPECT_EQ(response.status, 503u);
        EXPECT_NE(response.body.find("sluice: too many open files"), std::string::npos) << response.body;
    }
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::close(to_parent[0]);
    ::close(to_child[1]);
}

}  // namespace
}  // namespace sluice::test
