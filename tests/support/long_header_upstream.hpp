// long_header_upstream: an "Ollama" that answers every request with one long header field, as
// Gin's redirect of a target full of non-ASCII bytes does (Location re-escapes each byte).
#pragma once

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <sys/socket.h>

#include <string>
#include <thread>

namespace sluice::test {

class LongHeaderUpstream {
public:
    // Each response is a 301 without a body whose Location holds `field_bytes` bytes.
    explicit LongHeaderUpstream(std::size_t field_bytes)
        : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
        thread_ = std::thread([this, field_bytes] {
            for (;;) {
                boost::asio::ip::tcp::socket socket(io_);
                boost::system::error_code ec;
                acceptor_.accept(socket, ec);
                if (ec) return;
                boost::asio::streambuf request;
                boost::asio::read_until(socket, request, "\r\n\r\n", ec);
                const std::string response = "HTTP/1.1 301 Moved Permanently\r\nLocation: /" +
                                             std::string(field_bytes, 'a') + "\r\nContent-Length: 0\r\n\r\n";
                boost::asio::write(socket, boost::asio::buffer(response), ec);
            }
        });
    }
    ~LongHeaderUpstream() {
        // Closing a socket does not wake an accept() blocked on it; shutting it down does (Linux).
        ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
        thread_.join();
    }
    LongHeaderUpstream(const LongHeaderUpstream&) = delete;
    LongHeaderUpstream& operator=(const LongHeaderUpstream&) = delete;

    std::string url() const { return fmt::format("http://127.0.0.1:{}", acceptor_.local_endpoint().port()); }

private:
    boost::asio::io_context io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::thread thread_;
};

}  // namespace sluice::test
