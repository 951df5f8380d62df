// Integration tests of "safe by default" with the real binary: listening beyond loopback without
// authentication is refused at start-up (exit status and message), unless allow_unauthenticated.
#include "child_process.hpp"
#include "ports.hpp"
#include "test_client.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

struct Run {
    int status = -1;
    std::string output;  // stdout and stderr
};

// Runs sluice to its end (it must end: every case here refuses to start) and returns its output.
Run run_sluice(const std::string& arguments) {
    const auto output = std::filesystem::temp_directory_path() / fmt::format("sluice-exposure-{}.txt", ::getpid());
    const int raw = std::system(fmt::format("timeout 10 '{}' {} > '{}' 2>&1", SLUICE_BINARY, arguments, output.string()).c_str());
    std::stringstream text;
    text << std::ifstream(output).rdbuf();
    std::filesystem::remove(output);
    return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, text.str()};
}

TEST(Exposure, NonLoopbackListenFlagRefusesToStart) {
    const auto run = run_sluice("--listen 0.0.0.0:0");
    EXPECT_EQ(run.status, 2) << run.output;
    EXPECT_NE(run.output.find("sluice: config error: --listen: refusing to listen on 0.0.0.0:0 without authentication"),
              std::string::npos)
        << run.output;
    EXPECT_NE(run.output.find("sluice hash-key"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("allow_unauthenticated: true"), std::string::npos) << run.output;
}

TEST(Exposure, NonLoopbackListenInTheFileRefusesToStartNamingTheLine) {
    const auto path = std::filesystem::temp_directory_path() / fmt::format("sluice-exposure-{}.yaml", ::getpid());
    std::ofstream(path) << "threads: 1\nlisten: \"[::]:0\"\n";
    const auto run = run_sluice("--config '" + path.string() + "'");
    std::filesystem::remove(path);
    EXPECT_EQ(run.status, 2) << run.output;
    EXPECT_NE(run.output.find(path.string() + ":2: listen: refusing to listen on [::]:0 without authentication"),
              std::string::npos)
        << run.output;
}

TEST(Exposure, AllowUnauthenticatedLetsItListenOnEveryInterface) {
    const auto path = std::filesystem::temp_directory_path() / fmt::format("sluice-exposure-ok-{}.yaml", ::getpid());
    std::ofstream(path) << "allow_unauthenticated: true\nlisten: 0.0.0.0:0\nthreads: 1\n";
    const auto run = run_sluice("--config '" + path.string() + "' --check-config");
    std::filesystem::remove(path);
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_NE(run.output.find("config OK: listen 0.0.0.0:0"), std::string::npos) << run.output;
}

// sluice.socket's ListenStream= replaces listen:, so a socket on every interface is refused too.
// systemd-socket-activate starts sluice on the first connection, in its own process (it execs).
TEST(Exposure, SocketActivationOnEveryInterfaceRefusesToStart) {
    std::string activate;
    for (const char* path : {"/usr/bin/systemd-socket-activate", "/lib/systemd/systemd-socket-activate"}) {
        if (activate.empty() && std::filesystem::exists(path)) activate = path;
    }
    ASSERT_FALSE(activate.empty()) << "systemd-socket-activate not found (Debian package systemd)";
    const auto port = closed_loopback_port();
    ChildProcess activator({activate, "--listen", fmt::format("0.0.0.0:{}", port), SLUICE_BINARY});
    const auto client = connect_when_listening(port, 5s);  // once systemd-socket-activate listens
    ASSERT_TRUE(client) << "systemd-socket-activate never listened on " << port;
    EXPECT_EQ(activator.wait_exit(10s), std::optional<int>(1));
    EXPECT_TRUE(client->wait_closed(2s));
}

}  // namespace
}  // namespace sluice::test
