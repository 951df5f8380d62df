// Several sluice instances behind one L4 balancer behave as one: the page's session made through
// one instance is accepted by the other (the same auth.session_secret_file), an instance with
// another secret refuses it, and a new secret read by a reload ends every session. Two Servers
// on loopback, the tests' own TCP balancer in front, the fake Ollama behind both.
#include "sluice_under_test.hpp"
#include "tcp_balancer.hpp"

#include "sluice/access_control.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

namespace sluice::test {
namespace {

constexpr std::string_view phone_key = "sk-sluice-phone-0123456789abcdef";
constexpr std::string_view chat = R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hi"}],"stream":false})";

class InstancesTest : public ::testing::Test {
protected:
    InstancesTest() { std::filesystem::create_directories(dir_); }
    ~InstancesTest() override { std::filesystem::remove_all(dir_); }

    // A secret file only its owner reads, as the config wants it.
    std::string secret_file(std::string_view name, std::string_view secret) const {
        const auto path = dir_ / name;
        std::ofstream(path) << secret << '\n';
        std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        return path.string();
    }
    // The instances' one config file: the same key hash in each (a session is bound to it).
    Config config_with(const std::string& secret_path) const {
        auto config = parse_config(fmt::format("auth:\n  keys:\n    - name: phone\n      hash: \"{}\"\n  session_secret_file: {}\n",
                                               phone_hash_, secret_path),
                                   "sluice.yaml");
        config.listen = {"127.0.0.1", 0};
        config.upstreams = single_upstream(parse_upstream_url(ollama.url()));
        config.log.access = false;
        config.store.enabled = false;
        return config;
    }
    std::unique_ptr<Server> instance(const std::string& secret_path) const {
        auto server = std::make_unique<Server>(config_with(secret_path));
        server->start();
        return server;
    }
    // The page's login through `port`: the cookie to send back ("sluice_session=...").
    static std::string login(std::uint16_t port) {
        TestClient client(port);
        const auto response = client.request("POST", "/_sluice/login", {}, {{"Authorization", fmt::format("Bearer {}", phone_key)}});
        EXPECT_EQ(response.status, 200u) << response.body;
        const auto set_cookie = response.header("Set-Cookie");
        return set_cookie.substr(0, set_cookie.find(';'));
    }
    static Response chat_with(std::uint16_t port, const std::string& cookie) {
        TestClient client(port);
        return client.request("POST", "/api/chat", chat, {{"Cookie", cookie}});
    }

    std::filesystem::path dir_ = std::filesystem::temp_directory_path() / fmt::format("sluice-instances-{}", ::getpid());
    std::string phone_hash_ = hash_api_key(phone_key);
    FakeOllama ollama;
};

TEST_F(InstancesTest, ASessionMadeThroughOneInstanceIsAcceptedByTheOther) {
    const auto secret = secret_file("secret", "c2hhcmVkIGJ5IGV2ZXJ5IHNsdWljZSBiZWhpbmQgdGhlIGJhbGFuY2Vy");
    const auto first = instance(secret);
    const auto second = instance(secret);
    TcpBalancer balancer({first->port(), second->port()});

    const auto cookie = login(balancer.port());          // the first connection: instance 1
    const auto answer = chat_with(balancer.port(), cookie);  // the second: instance 2
    EXPECT_EQ(balancer.connections_to(0), 1u);
    EXPECT_EQ(balancer.connections_to(1), 1u);
    EXPECT_EQ(answer.status, 200u) << answer.body;
    EXPECT_NE(answer.body.find(R"("done":true)"), std::string::npos) << answer.body;
    // And each instance on its own, whichever made it.
    EXPECT_EQ(chat_with(first->port(), cookie).status, 200u);
    EXPECT_EQ(chat_with(second->port(), cookie).status, 200u);
}

TEST_F(InstancesTest, AnInstanceWithAnotherSecretRefusesTheSession) {
    const auto first = instance(secret_file("one", "dGhlIGZpcnN0IGluc3RhbmNlJ3Mgb3duIHNlY3JldCwgbG9uZw=="));
    const auto other = instance(secret_file("other", "YW5vdGhlciBzZWNyZXQgYWx0b2dldGhlciwgYWxzbyBsb25n"));
    const auto cookie = login(first->port());
    EXPECT_EQ(chat_with(first->port(), cookie).status, 200u);
    const auto refused = chat_with(other->port(), cookie);
    EXPECT_EQ(refused.status, 401u);
    EXPECT_EQ(refused.body, R"({"error":"sluice: the browser session has ended; log in again with your key"})");
}

TEST_F(InstancesTest, ANewSecretReadByAReloadEndsEverySession) {
    const auto path = secret_file("secret", "YmVmb3JlIHRoZSByb3RhdGlvbiwgYSBsb25nIGVub3VnaCBzZWNyZXQ=");
    const auto server = instance(path);
    const auto cookie = login(server->port());
    EXPECT_EQ(chat_with(server->port(), cookie).status, 200u);
    secret_file("secret", "YWZ0ZXIgdGhlIHJvdGF0aW9uLCBhbm90aGVyIGxvbmcgZW5vdWdoIHNlY3JldA==");
    server->reload(config_with(path));
    EXPECT_EQ(chat_with(server->port(), cookie).status, 401u);
    EXPECT_EQ(chat_with(server->port(), login(server->port())).status, 200u);  // a new login works at once
}

TEST_F(InstancesTest, ALogoutEndsTheSessionOnTheInstanceThatServedIt) {
    const auto secret = secret_file("secret", "c2hhcmVkIGJ5IGV2ZXJ5IHNsdWljZSBiZWhpbmQgdGhlIGJhbGFuY2Vy");
    const auto first = instance(secret);
    const auto second = instance(secret);
    const auto cookie = login(first->port());
    TestClient client(second->port());
    const auto logout = client.request("POST", "/_sluice/logout", {}, {{"Cookie", cookie}});
    EXPECT_EQ(logout.status, 200u);
    EXPECT_NE(logout.header("Set-Cookie").find("Max-Age=0"), std::string::npos);  // the browser forgets it
    EXPECT_EQ(chat_with(second->port(), cookie).status, 401u);
    // The other instance keeps no shared list: a copy of the token lasts there until it expires.
    EXPECT_EQ(chat_with(first->port(), cookie).status, 200u);
}

}  // namespace
}  // namespace sluice::test
