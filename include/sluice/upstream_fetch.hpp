// upstream_fetch: one small request of sluice's own to Ollama (not a client's), read whole:
// the model catalog's /api/tags and /api/show, the readiness probe's /api/version.
#pragma once

#include "sluice/config.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <string>
#include <string_view>

namespace sluice {

struct FetchOptions {
    std::string_view user_agent = "sluice";
    std::chrono::milliseconds response_timeout{std::chrono::seconds(30)};  // after the connect
    const UpstreamUrl* ollama = nullptr;  // which Ollama; null: config.upstream()
};

// Connects to options.ollama or config.upstream() (timeouts.upstream_connect), sends the request (a JSON `body`
// when not empty) on a connection of its own and returns the response body; throws when Ollama
// cannot be reached, is too slow, or answers anything but 200.
boost::asio::awaitable<std::string> fetch_from_upstream(boost::asio::io_context& io, const Config& config,
                                                        std::string_view method, std::string_view target,
                                                        std::string body = {}, FetchOptions options = {});

// What a failed fetch says to a user: "Connection refused" rather than Boost's what(), which
// carries the source location of the failed call.
std::string describe_fetch_error(const std::exception& error);

}  // namespace sluice
