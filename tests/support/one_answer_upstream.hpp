// one_answer_upstream: an "Ollama" that answers the first request on each connection (kept
// alive) and closes the connection when the second one arrives, unanswered: what sluice meets
// when Ollama closes an idle kept-alive connection just as a request goes into it.
#pragma once

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <sys/socket.h>

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace sluice::test {

class OneAnswerUpstream {
public:
    static constexpr std::string_view body = R"({"model":"m","message":{"role":"assistant","content":"hi"},"done":true})"
                                             "\n";

    OneAnswerUpstream() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
        thread_ = std::thread([this] {
            for (;;) {
                auto socket = std::make_shared<boost::asio::ip::tcp::socket>(io_);
                boost::system::error_code ec;
                acceptor_.accept(*socket, ec);
                if (ec) return;
                const std::lock_guard lock(mutex_);
                sockets_.push_back(socket);
                serving_.emplace_back([this, socket] { serve(*socket); });
            }
        });
    }
    ~OneAnswerUpstream() {
        // Closing a socket does not wake a thread blocked on it; shutting it down does (Linux).
        ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
        thread_.join();
        for (auto& socket : sockets_) ::shutdown(socket->native_handle(), SHUT_RDWR);
        for (auto& thread : serving_) thread.join();
    }
    OneAnswerUpstream(const OneAnswerUpstream&) = delete;
    OneAnswerUpstream& operator=(const OneAnswerUpstream&) = delete;

    std::string url() const { return fmt::format("http://127.0.0.1:{}", acceptor_.local_endpoint().port()); }
    // Connections whose first request was a client's (sluice's readiness probe not counted).
    std::size_t connections() const { return connections_; }

private:
    void serve(boost::asio::ip::tcp::socket& socket) {
        boost::system::error_code ec;
        boost::asio::streambuf request;
        const auto header = boost::asio::read_until(socket, request, "\r\n\r\n", ec);
        if (ec) return;
        const std::string head(static_cast<const char*>(request.data().data()), header);
        request.consume(header);
        if (head.find("User-Agent: sluice-readiness") == std::string::npos) ++connections_;
        // The first request's body (the chat), by its Content-Length.
        std::size_t length = 0;
        if (const auto at = head.find("Content-Length: "); at != std::string::npos) length = std::stoul(head.substr(at + 16));
        if (request.size() < length) boost::asio::read(socket, request, boost::asio::transfer_exactly(length - request.size()), ec);
        request.consume(length);
        const std::string response = fmt::format(
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n{}", body.size(), body);
        boost::asio::write(socket, boost::asio::buffer(response), ec);
        boost::asio::read_until(socket, request, "\r\n\r\n", ec);  // the second request: closed unanswered
        socket.close(ec);
    }

    boost::asio::io_context io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::atomic<std::size_t> connections_{0};
    std::mutex mutex_;
    std::list<std::shared_ptr<boost::asio::ip::tcp::socket>> sockets_;
    std::list<std::thread> serving_;
    std::thread thread_;
};

}  // namespace sluice::test
