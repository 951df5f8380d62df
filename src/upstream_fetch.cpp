// upstream_fetch: one small request of sluice's own to Ollama, read whole.
#include "sluice/upstream_fetch.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {
// /api/tags of a large model library is a few hundred KiB; anything far bigger is not Ollama.
constexpr std::size_t max_response_bytes = 16 * 1024 * 1024;
}  // namespace

asio::awaitable<std::string> fetch_from_upstream(asio::io_context& io, const Config& config, std::string_view method,
                                                 std::string_view target, std::string body, FetchOptions options) {
    beast::tcp_stream stream(io);
    asio::ip::tcp::resolver resolver(io);
    const auto& ollama = options.ollama ? *options.ollama : config.upstream();
    const auto endpoints = co_await resolver.async_resolve(ollama.host, std::to_string(ollama.port), asio::use_awaitable);
    stream.expires_after(config.timeouts.upstream_connect);
    co_await stream.async_connect(endpoints, asio::use_awaitable);

    http::request<http::string_body> request;
    request.method_string(method);
    request.target(target);
    request.version(11);
    request.set(http::field::host, ollama.host_header);
    request.set(http::field::user_agent, options.user_agent);
    if (!body.empty()) {
        request.set(http::field::content_type, "application/json");
        request.body() = std::move(body);
    }
    request.prepare_payload();
    stream.expires_after(options.response_timeout);
    co_await http::async_write(stream, request, asio::use_awaitable);

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_response_bytes);
    co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
    if (parser.get().result() != http::status::ok) {
        throw std::runtime_error(fmt::format("{} {} answered {}", method, target, parser.get().result_int()));
    }
    co_return std::move(parser.get().body());
}

std::string describe_fetch_error(const std::exception& error) {
    const auto* system_error = dynamic_cast<const boost::system::system_error*>(&error);
    return system_error ? system_error->code().message() : error.what();
}

}  // namespace sluice
