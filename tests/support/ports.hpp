// ports: a loopback port where nothing listens (an Ollama that is down), and a client for a
// port that something else (systemd-socket-activate) is about to listen on.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "test_client.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <thread>

namespace sluice::test {

// The kernel's pick of a free port, closed again before it is returned.
inline std::uint16_t closed_loopback_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return acceptor.local_endpoint().port();
}

// A client connected to 127.0.0.1:port once it accepts, or null after `timeout`.
inline std::unique_ptr<TestClient> connect_when_listening(std::uint16_t port, std::chrono::milliseconds timeout) {
    for (const auto deadline = Clock::now() + timeout; Clock::now() < deadline;) {
        try {
            return std::make_unique<TestClient>(port);
        } catch (const std::runtime_error&) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));  // not listening yet
        }
    }
    return nullptr;
}

}  // namespace sluice::test
