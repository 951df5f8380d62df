// upstream_call: one request to Ollama and its response, shared by every front end.
#include "sluice/upstream_call.hpp"

#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace sluice {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr std::size_t max_forwarded_for_bytes = 4096;

bool is_idempotent(http::verb method) {
    return method == http::verb::get || method == http::verb::head || method == http::verb::options ||
           method == http::verb::delete_ || method == http::verb::put;
}

std::string describe(const boost::system::error_code& ec) {
    if (ec == beast::error::timeout) return "timed out";
    if (ec == http::error::end_of_stream || ec == asio::error::eof) return "connection closed by ollama";
    return ec.message();
}

}  // namespace

void UpstreamCall::set_forwarding(std::string_view client_address, std::string_view forwarded_for,
                                  std::string_view forwarded_proto, bool tls) {
    // A chain too long to be real is replaced by the one address sluice knows (appending to it
    // could also pass the 64KiB a header field may have).
    request_.set("X-Forwarded-For", forwarded_for.empty() || forwarded_for.size() > max_forwarded_for_bytes
                                        ? std::string(client_address)
                                        : fmt::format("{}, {}", forwarded_for, client_address));
    if (forwarded_proto.empty()) request_.set("X-Forwarded-Proto", tls ? "https" : "http");
}

// --- the request -----------------------------------------------------------------------------

// A kept-alive connection can be closed by Ollama just as a request goes into it. The request is
// then sent once more, on a new connection, when it cannot have run twice: its body is still at
// hand, and either the write failed (nothing reached Ollama) or the method is idempotent (Ollama
// may have been handling it: a chat would be generated twice).
bool UpstreamCall::may_replay(bool after_request_written) const {
    return !retried_ && !cancelled_ && connection_ && connection_->reused && whole_body_ &&
           (!after_request_written || is_idempotent(request_.method()));
}

void UpstreamCall::set_backends(BackendOrder order, bool generation, std::string_view model, std::uint64_t conversation) {
    order_ = order;
    tried_ = 0;
    generation_ = generation;
    model_ = model;
    conversation_ = conversation;
    // Counted from the choice, not the connect: a burst of requests sees each other's choices.
    if (generation_) lease_ = loop_.services.fleet.lease(backend());
}

void UpstreamCall::send(std::optional<std::string_view> body, Then sent) {
    whole_body_ = body;
    connect(std::move(sent), false);
}

// The pool's handler runs on this loop, and `sent` keeps the front end (and this call) alive.
void UpstreamCall::connect(Then sent, bool fresh) {
    auto connected = [this, sent = std::move(sent)](error_code ec, std::unique_ptr<UpstreamConnection> connection) mutable {
        if (ec && !cancelled_ && tried_ + 1 < order_.size) {
            loop_.services.fleet.unreachable(backend(), describe(ec));
            ++tried_;
            if (generation_) lease_ = loop_.services.fleet.lease(backend());
            connect(std::move(sent), false);
            return;
        }
        if (ec) {
            sent(unreachable(ec, false));
            return;
        }
        if (cancelled_) {  // nothing went on it: the pool may hand it out again
            pool().release(std::move(connection));
            sent(UpstreamError{502, "sluice: cancelled before the request went to ollama"});
            return;
        }
        connection_ = std::move(connection);
        if (generation_) loop_.services.fleet.serving(backend(), model_, conversation_, config_.routing.sticky);
        write(std::move(sent));
    };
    if (fresh) {
        pool().fresh_connection(std::move(connected));
    } else {
        pool().acquire(std::move(connected));
    }
}

void UpstreamCall::write(Then sent) {
    auto& body = request_.body();
    body.data = whole_body_ && !whole_body_->empty() ? const_cast<char*>(whole_body_->data()) : nullptr;
    body.size = whole_body_ ? whole_body_->size() : 0;
    body.more = !whole_body_;
    if (whole_body_) request_.content_length(whole_body_->size());
    request_.set(http::field::host, config_.upstreams[backend()].url.host_header);
    serializer_.emplace(request_);
    connection_->stream.expires_after(config_.timeouts.upstream_headers);
    auto handler = [this, sent = std::move(sent)](error_code ec, std::size_t) mutable { on_written(ec, std::move(sent)); };
    if (whole_body_) {
        http::async_write(connection_->stream, *serializer_, std::move(handler));
    } else {
        http::async_write_header(connection_->stream, *serializer_, std::move(handler));
    }
}

void UpstreamCall::on_written(error_code ec, Then sent) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec && may_replay(false)) {
        retried_ = true;
        connection_.reset();
        connect(std::move(sent), true);
        return;
    }
    if (ec) {
        sent(unreachable(ec, true));
        return;
    }
    sent(std::nullopt);
}

UpstreamError UpstreamCall::unreachable(const error_code& ec, bool connected) const {
    return {502, fmt::format("sluice: cannot reach ollama at {}: {}", url(), describe(ec)), !connected};
}

// --- the response header ---------------------------------------------------------------------

void UpstreamCall::read_header(bool head, Then got) {
    head_ = head;
    response_.emplace();
    response_->header_limit(max_upstream_header_bytes);
    response_->body_limit(boost::none);
    if (head) response_->skip(true);
    connection_->stream.expires_after(config_.timeouts.upstream_headers);
    header_pending_ = true;
    http::async_read_header(connection_->stream, connection_->buffer, *response_,
                            [this, got = std::move(got)](error_code ec, std::size_t) mutable {
                                header_pending_ = false;
                                on_header(ec, std::move(got));
                            });
}

void UpstreamCall::on_header(error_code ec, Then got) {
    if (!ec) {
        // Past a final status line the request is never sent again: the front end may free it.
        if (response_->get().result_int() / 100 != 1) whole_body_.reset();
        got(std::nullopt);
        return;
    }
    if (may_replay(true)) {
        retried_ = true;
        connection_.reset();
        connect([this, got = std::move(got)](std::optional<UpstreamError> error) mutable {
            if (error) {
                got(std::move(error));
            } else {
                read_header(head_, std::move(got));
            }
        }, true);
        return;
    }
    if (ec == beast::error::timeout) {
        got(UpstreamError{504, fmt::format("sluice: ollama at {} sent no response within timeouts.upstream_headers ({})",
                                           url(), config_.timeouts.upstream_headers)});
    } else {
        got(UpstreamError{502, fmt::format("sluice: ollama at {} failed before responding: {}", url(),
                                           describe(ec))});
    }
}

// --- the response body -----------------------------------------------------------------------

void UpstreamCall::begin_body(std::size_t buffer_bytes) {
    connection_->stream.expires_never();
    connection_->buffer.reserve(buffer_bytes);
}

// --- the end ---------------------------------------------------------------------------------

void UpstreamCall::cancel() {
    cancelled_ = true;
    if (!connection_) return;
    error_code ignored;
    connection_->stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    connection_->stream.socket().close(ignored);
}

void UpstreamCall::release(bool request_sent_whole) {
    if (connection_ && reusable_ && request_sent_whole && response_complete() && response_->keep_alive()) {
        pool().release(std::move(connection_));
    }
    connection_.reset();  // a connection not handed back is closed here
    lease_.release();
}

}  // namespace sluice
