// sluice_under_test: what every integration test starts from: the fake Ollama on loopback and
// sluice's Server in front of it, listening on 127.0.0.1 (an ephemeral port), access log off,
// no conversation store unless the test gives it a file.
#pragma once

#include "fake_ollama.hpp"
#include "test_client.hpp"

#include "sluice/config.hpp"
#include "sluice/server.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string_view>

namespace sluice::test {

class SluiceUnderTest : public ::testing::Test {
protected:
    // `config` on loopback in front of the fake Ollama (or of `upstream`, a URL).
    Config local(Config config, std::string_view upstream = {}) const {
        config.listen = {"127.0.0.1", 0};
        config.upstreams = single_upstream(parse_upstream_url(upstream.empty() ? std::string_view(ollama.url()) : upstream));
        config.log.access = false;
        if (config.store.path.empty()) config.store.enabled = false;  // a store only where a test names its file
        return config;
    }
    // Starts sluice with `config` made local(), in place of the one running, if any.
    void start(Config config = {}, std::string_view upstream = {}) {
        server.reset();
        server = std::make_unique<Server>(local(std::move(config), upstream));
        server->start();
    }
    void start_yaml(std::string_view yaml, std::string_view upstream = {}) {
        start(parse_config(yaml, "sluice.yaml"), upstream);
    }
    std::uint16_t port() const { return server->port(); }
    // One request through sluice on a fresh connection.
    Response request(std::string_view method, std::string_view target, std::string_view body = {},
                     const Headers& headers = {}) const {
        TestClient client(port());
        return client.request(method, target, body, headers);
    }

    FakeOllama ollama;
    std::unique_ptr<Server> server;
};

}  // namespace sluice::test
