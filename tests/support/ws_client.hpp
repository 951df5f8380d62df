// ws_client: a blocking Beast WebSocket client for sluice's /_sluice/ws, and its frames parsed,
// for integration tests (header-only: it reports malformed frames through GoogleTest).
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::test {

// A frame from sluice, parsed.
struct WsFrame {
    std::string raw;
    std::string id;
    std::string line;  // the NDJSON line, as Ollama sent it ("" when not a line frame)
    bool done = false;
    bool cancelled = false;
    std::string error;
    std::string rewrite;  // the end frame's X-Sluice-Rewrite value
    std::optional<std::uint64_t> waiting;  // the chat's place in the fleet's line (0: its turn came)
};

inline WsFrame parse_ws_frame(std::string raw) {
    WsFrame frame;
    frame.raw = std::move(raw);
    simdjson::dom::parser parser;
    simdjson::dom::object object;
    if (parser.parse(frame.raw).get(object) != simdjson::SUCCESS) {
        ADD_FAILURE() << "frame is not a JSON object: " << frame.raw;
        return frame;
    }
    std::string_view text;
    if (object["id"].get(text) == simdjson::SUCCESS) frame.id = text;
    if (object["error"].get(text) == simdjson::SUCCESS) frame.error = text;
    if (object["rewrite"].get(text) == simdjson::SUCCESS) frame.rewrite = text;
    bool flag = false;
    if (object["done"].get(flag) == simdjson::SUCCESS) frame.done = flag;
    if (object["cancelled"].get(flag) == simdjson::SUCCESS) frame.cancelled = flag;
    std::uint64_t place = 0;
    if (object["waiting"].get(place) == simdjson::SUCCESS) frame.waiting = place;
    simdjson::dom::element line;
    if (object["line"].get(line) == simdjson::SUCCESS) frame.line = simdjson::minify(line);
    return frame;
}

// A blocking WebSocket client on 127.0.0.1 whose reads give up after a timeout.
class WsClient {
public:
    using Headers = std::vector<std::pair<std::string, std::string>>;

    explicit WsClient(std::uint16_t port, std::string origin = {}, Headers headers = {}) : ws_(io_) {
        boost::beast::get_lowest_layer(ws_).connect({boost::asio::ip::make_address("127.0.0.1"), port});
        if (!origin.empty()) headers.emplace_back("Origin", std::move(origin));
        ws_.set_option(boost::beast::websocket::stream_base::decorator([headers](boost::beast::websocket::request_type& request) {
            for (const auto& [name, value] : headers) request.set(name, value);
        }));
        ws_.handshake(response_, fmt::format("127.0.0.1:{}", port), "/_sluice/ws", handshake_error_);
        ws_.text(true);
    }

    bool open() const { return !handshake_error_; }
    unsigned handshake_status() const { return response_.result_int(); }

    void send(std::string_view text) { ws_.write(boost::asio::buffer(text)); }
    void chat(std::string_view id, std::string_view model = "qwen3:14b") {
        send(fmt::format(R"({{"id":"{}","chat":{{"model":"{}","messages":[{{"role":"user","content":"hi"}}]}}}})", id, model));
    }
    void cancel(std::string_view id) { send(fmt::format(R"({{"id":"{}","cancel":true}})", id)); }

    // The next frame; nullopt when the socket closed (see close_code()) or `timeout` passed.
    std::optional<WsFrame> read(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        boost::beast::flat_buffer buffer;
        boost::system::error_code result = boost::asio::error::timed_out;
        bool finished = false;
        ws_.async_read(buffer, [&](boost::system::error_code ec, std::size_t) {
            result = ec;
            finished = true;
        });
        io_.restart();  // one handler at a time: a raw write the test left pending may outlast the read
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!finished && io_.run_one_until(deadline) != 0) {
        }
        last_error_ = result;
        if (!finished) {
            boost::beast::get_lowest_layer(ws_).close();
            io_.restart();
            io_.run();
            return std::nullopt;
        }
        if (result) return std::nullopt;
        return parse_ws_frame(boost::beast::buffers_to_string(buffer.data()));
    }

    // Reads frames until chat `id` ends; returns every frame read, of all chats.
    std::vector<WsFrame> read_until_end_of(std::string_view id, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        std::vector<WsFrame> frames;
        while (auto frame = read(timeout)) {
            frames.push_back(*frame);
            if (frame->id == id && (frame->done || !frame->error.empty())) return frames;
        }
        ADD_FAILURE() << "chat " << id << " did not end";
        return frames;
    }

    // Reads (and drops) frames until sluice closes the socket; its close code, 0 when it did not
    // close with a close frame within `timeout`.
    unsigned read_until_closed(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (read(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()))) {
        }
        return last_error_ == boost::beast::websocket::error::closed ? ws_.reason().code : 0u;
    }
    // Why the last read ended: websocket::error::closed, a reset, timed_out...
    boost::system::error_code last_error() const { return last_error_; }
    std::string close_reason() const { return std::string(ws_.reason().reason.data(), ws_.reason().reason.size()); }

    boost::beast::websocket::stream<boost::asio::ip::tcp::socket>& stream() { return ws_; }
    void drop() { boost::beast::get_lowest_layer(ws_).close(); }

private:
    boost::asio::io_context io_;
    boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
    boost::beast::websocket::response_type response_;
    boost::system::error_code handshake_error_;
    boost::system::error_code last_error_;
};

inline std::size_t count_lines(const std::vector<WsFrame>& frames, std::string_view id) {
    return static_cast<std::size_t>(
        std::count_if(frames.begin(), frames.end(), [id](const WsFrame& f) { return f.id == id && !f.line.empty(); }));
}

}  // namespace sluice::test
