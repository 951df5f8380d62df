// test_client: the blocking HTTP/1.1 client of test_client.hpp; every wait has a deadline.
#include "test_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <optional>
#include <stdexcept>

namespace sluice::test {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string find_header(const std::vector<std::pair<std::string, std::string>>& headers, std::string_view name) {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) return value;
    }
    return {};
}

bool contains_header(const std::vector<std::pair<std::string, std::string>>& headers, std::string_view name) {
    return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); });
}

}  // namespace

std::string Response::header(std::string_view name) const { return find_header(headers, name); }

bool Response::has_header(std::string_view name) const { return contains_header(headers, name); }

struct TestClient::Impl {
    using Parser = http::response_parser<http::buffer_body>;

    asio::io_context io{1};
    tcp::socket socket{io};
    beast::flat_buffer buffer;
    std::optional<Parser> parser;
    std::vector<char> scratch = std::vector<char>(64 * 1024);
    std::uint16_t port = 0;

    // Starts one asynchronous operation through `start(handler)` and runs it to completion or
    // until `timeout`; on timeout the operation is cancelled and std::runtime_error thrown.
    template <class Start>
    std::pair<error_code, std::size_t> run(Start&& start, Clock::duration timeout, std::string_view what) {
        if (timeout <= Clock::duration::zero()) throw std::runtime_error("test_client: " + std::string(what) + " timed out");
        std::optional<std::pair<error_code, std::size_t>> result;
        start([&result](error_code ec, std::size_t bytes = 0) { result.emplace(ec, bytes); });
        io.restart();
        io.run_for(timeout);
        if (!result) {
            error_code ignored;
            socket.cancel(ignored);
            io.restart();
            io.run();  // lets the cancelled operation finish before its handler's captures go away
            throw std::runtime_error("test_client: " + std::string(what) + " timed out");
        }
        return *result;
    }

    Response read_head(Clock::time_point deadline, bool head) {
        auto& p = parser.emplace();
        p.header_limit(64 * 1024);
        p.body_limit(boost::none);
        if (head) p.skip(true);
        const auto [ec, bytes] = run([&](auto handler) { http::async_read_header(socket, buffer, p, handler); },
                                     deadline - Clock::now(), "reading the response header");
        if (ec) throw std::runtime_error("test_client: reading the response header: " + ec.message());

        Response response;
        const auto& message = p.get();
        response.status = message.result_int();
        response.version = message.version();
        for (const auto& field : message) {
            response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        }
        response.chunked = p.chunked();
        response.keep_alive = message.keep_alive();
        return response;
    }

    // The next body bytes, as one read delivers them; empty at the end of the body.
    std::string read_piece(Clock::time_point deadline) {
        if (!parser) throw std::runtime_error("test_client: no response header has been read");
        auto& p = *parser;
        for (;;) {
            if (p.is_done()) return {};
            p.get().body().data = scratch.data();
            p.get().body().size = scratch.size();
            auto [ec, bytes] = run([&](auto handler) { http::async_read_some(socket, buffer, p, handler); },
                                   deadline - Clock::now(), "reading the response body");
            if (ec == http::error::need_buffer) ec = {};
            if (ec) throw std::runtime_error("test_client: reading the response body: " + ec.message());
            const std::size_t got = scratch.size() - p.get().body().size;
            if (got > 0) return std::string(scratch.data(), got);
        }
    }
};

TestClient::TestClient(std::uint16_t port) : impl_(std::make_unique<Impl>()) {
    impl_->port = port;
    const tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), port);
    const auto [ec, ignored] = impl_->run([&](auto handler) { impl_->socket.async_connect(endpoint, handler); },
                                          std::chrono::seconds(5), "connecting");
    if (ec) throw std::runtime_error("test_client: connecting to " + endpoint.address().to_string() + ":" +
                                     std::to_string(port) + ": " + ec.message());
    impl_->socket.set_option(tcp::no_delay(true));
}

TestClient::~TestClient() {
    error_code ignored;
    impl_->socket.close(ignored);
}

// A Host header among `headers` replaces the default one; Content-Length or Transfer-Encoding
// among them suppresses the computed Content-Length. Interim 1xx responses are skipped.
Response TestClient::request(std::string_view method, std::string_view target, std::string_view body,
                             const std::vector<std::pair<std::string, std::string>>& headers) {
    std::string out;
    out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
    if (!contains_header(headers, "Host")) out.append("Host: 127.0.0.1:").append(std::to_string(impl_->port)).append("\r\n");
    for (const auto& [name, value] : headers) out.append(name).append(": ").append(value).append("\r\n");
    const bool framed = contains_header(headers, "Content-Length") || contains_header(headers, "Transfer-Encoding");
    if (!framed && (!body.empty() || method == "POST" || method == "PUT")) {
        out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    }
    out.append("\r\n").append(body);
    send_raw(out);
    for (;;) {
        Response response = read_response(method == "HEAD");
        if (response.status < 100 || response.status >= 200 || response.status == 101) return response;
    }
}

void TestClient::send_raw(std::string_view bytes) {
    const auto [ec, ignored] = impl_->run(
        [&](auto handler) { asio::async_write(impl_->socket, asio::buffer(bytes.data(), bytes.size()), handler); },
        std::chrono::seconds(10), "sending");
    if (ec) throw std::runtime_error("test_client: sending: " + ec.message());
}

Response TestClient::read_response(bool head, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    Response response = impl_->read_head(deadline, head);
    for (;;) {
        std::string piece = impl_->read_piece(deadline);
        const auto at = Clock::now();
        if (piece.empty()) break;
        response.body += piece;
        response.pieces.push_back(BodyPiece{std::move(piece), at});
    }
    return response;
}

Response TestClient::read_header(std::chrono::milliseconds timeout) {
    return impl_->read_head(Clock::now() + timeout, false);
}

std::string TestClient::read_body_piece(std::chrono::milliseconds timeout) {
    return impl_->read_piece(Clock::now() + timeout);
}

bool TestClient::wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    impl_->buffer.consume(impl_->buffer.size());
    for (;;) {
        const auto remaining = deadline - Clock::now();
        if (remaining <= Clock::duration::zero()) return false;
        try {
            const auto [ec, ignored] = impl_->run(
                [&](auto handler) { impl_->socket.async_read_some(asio::buffer(impl_->scratch), handler); }, remaining,
                "waiting for the close");
            if (ec) return true;  // end of stream, reset, or already closed
        } catch (const std::runtime_error&) {
            return false;
        }
    }
}

void TestClient::close() {
    error_code ignored;
    impl_->socket.set_option(asio::socket_base::linger(true, 0), ignored);  // RST, like a killed client
    impl_->socket.close(ignored);
}

void TestClient::shutdown_send() {
    error_code ignored;
    impl_->socket.shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace sluice::test
