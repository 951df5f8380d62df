// Integration tests of "safe by default" with the real binary: listening beyond loopback without
// authentication is refused at start-up (exit status and message), unless there are API keys
// (which then never show in the logs) or allow_unauthenticated.
#include "child_process.hpp"
#include "fake_ollama.hpp"
#include "ports.hpp"
#include "test_client.hpp"

#include "sluice/access_control.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

TEST(Exposure, NonLoopbackListenFlagRefusesToStart) {
    const auto run = run_sluice_to_end("--listen 0.0.0.0:0");
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
    const auto run = run_sluice_to_end("--config '" + path.string() + "'");
    std::filesystem::remove(path);
    EXPECT_EQ(run.status, 2) << run.output;
    EXPECT_NE(run.output.find(path.string() + ":2: listen: refusing to listen on [::]:0 without authentication"),
              std::string::npos)
        << run.output;
}

TEST(Exposure, AllowUnauthenticatedLetsItListenOnEveryInterface) {
    const auto path = std::filesystem::temp_directory_path() / fmt::format("sluice-exposure-ok-{}.yaml", ::getpid());
    std::ofstream(path) << "allow_unauthenticated: true\nlisten: 0.0.0.0:0\nthreads: 1\n";
    const auto run = run_sluice_to_end("--config '" + path.string() + "' --check-config");
    std::filesystem::remove(path);
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_NE(run.output.find("config OK: listen 0.0.0.0:0"), std::string::npos) << run.output;
}

TEST(Exposure, ApiKeysLetItListenOnEveryInterfaceAndTheKeyIsNeverLogged) {
    FakeOllama ollama;
    const auto key = generate_api_key();
    const auto base = std::filesystem::temp_directory_path() / fmt::format("sluice-exposure-keys-{}", ::getpid());
    const auto config = base.string() + ".yaml";
    const auto log = base.string() + ".log";
    const auto port = closed_loopback_port();
    std::ofstream(config) << fmt::format("listen: 0.0.0.0:{}\nupstream: {}\nthreads: 1\nlog: {{level: debug}}\n"
                                         "auth:\n  keys:\n    - name: laptop\n      hash: \"{}\"\n",
                                         port, ollama.url(), hash_api_key(key));
    ChildProcess sluice({SLUICE_BINARY, "--config", config}, {}, log);
    auto client = connect_when_listening(port, 5s);
    ASSERT_TRUE(client) << "sluice did not start with a key on 0.0.0.0";
    EXPECT_EQ(client->request("GET", "/api/tags", {}, {{"Authorization", "Bearer " + key}}).status, 200u);
    EXPECT_EQ(client->request("GET", "/api/tags", {}, {{"Authorization", "Bearer sk-sluice-guessed-wrong-123"}}).status,
              401u);
    EXPECT_EQ(client->request("POST", "/_sluice/login", {}, {{"Authorization", "Bearer " + key}}).status, 200u);
    sluice.signal(SIGTERM);
    EXPECT_EQ(sluice.wait_exit(10s), std::optional<int>(0));

    std::stringstream text;
    text << std::ifstream(log).rdbuf();
    const auto output = text.str();
    EXPECT_NE(output.find("GET /api/tags 200"), std::string::npos) << output;
    EXPECT_NE(output.find("key=laptop"), std::string::npos) << output;
    EXPECT_EQ(output.find(key), std::string::npos) << output;
    EXPECT_EQ(output.find(key.substr(10, 16)), std::string::npos) << output;
    EXPECT_EQ(output.find("guessed-wrong"), std::string::npos) << output;
    std::filesystem::remove(config);
    std::filesystem::remove(log);
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
