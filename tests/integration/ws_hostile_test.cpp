// Hostile input on the browser page's WebSocket (/_sluice/ws), one class per test, each with the
// answer a client sees (an error frame or a close code) and a check that sluice still serves:
// real sockets (a Beast client, or raw frames from a non-blocking socket for the floods) against
// sluice and the fake Ollama.
#include "long_header_upstream.hpp"
#include "sluice_under_test.hpp"
#include "ws_client.hpp"

#include "sluice/json_error.hpp"
#include "sluice/ws_session.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;

constexpr std::size_t max_body_bytes = 64 * 1024;

class WebSocketHostileTest : public SluiceUnderTest {
protected:
    void SetUp() override {
        Config config;
        config.limits.max_body_bytes = max_body_bytes;
        start(config);
    }

    // sluice still serves: a new socket's chat streams to its end.
    void expect_still_serving() {
        WsClient other(port());
        ASSERT_TRUE(other.open());
        other.chat("after");
        const auto frames = other.read_until_end_of("after");
        ASSERT_FALSE(frames.empty());
        EXPECT_TRUE(frames.back().done) << frames.back().raw;
    }
};

// A frame as a browser sends it (RFC 6455 5.2): FIN, `opcode`, masked with a zero key, so the
// payload goes as it is.
std::string client_frame(std::uint8_t opcode, std::string_view payload) {
    std::string frame;
    frame += static_cast<char>(0x80 | opcode);
    if (payload.size() < 126) {
        frame += static_cast<char>(0x80 | payload.size());
    } else {
        frame += static_cast<char>(0x80 | 126);
        frame += static_cast<char>(payload.size() >> 8);
        frame += static_cast<char>(payload.size() & 0xFF);
    }
    frame.append(4, '\0');
    frame += payload;
    return frame;
}

struct Flood {
    std::size_t frames = 0;  // frames written, the last one perhaps in part
    std::string rest;        // the last frame's bytes not written
};

// More than any budget of sluice's: a flood that gets this far was never pushed back.
constexpr std::size_t flood_limit = 64 * 1024 * 1024;

// Writes `frame` over and over from the client's socket (non-blocking, a small receive buffer),
// reading nothing, until the socket takes no byte for `stall` (sluice stopped reading) or
// flood_limit bytes went.
Flood flood(WsClient& client, std::string_view frame, std::chrono::milliseconds stall = 1s) {
    auto& socket = client.stream().next_layer();
    socket.set_option(asio::socket_base::receive_buffer_size(16 * 1024));
    std::string batch;
    while (batch.size() < 64 * 1024) batch += frame;
    socket.non_blocking(true);
    std::size_t sent = 0;
    auto progress = std::chrono::steady_clock::now();
    while (sent < flood_limit && std::chrono::steady_clock::now() - progress < stall) {
        boost::system::error_code ec;
        const auto offset = sent % batch.size();
        const auto n = socket.write_some(asio::buffer(batch.data() + offset, batch.size() - offset), ec);
        if (ec == asio::error::would_block) {
            pollfd writable{socket.native_handle(), POLLOUT, 0};
            ::poll(&writable, 1, 10);
            continue;
        }
        if (ec) {
            ADD_FAILURE() << "the flood's socket failed: " << ec.message();
            break;
        }
        sent += n;
        progress = std::chrono::steady_clock::now();
    }
    const auto partial = sent % frame.size();
    return {(sent + frame.size() - 1) / frame.size(), partial == 0 ? std::string() : std::string(frame.substr(partial))};
}

// After a flood: the last frame's rest and then a chat, written while the client reads (sluice
// reads again only as the client takes what it answered).
void chat_after(WsClient& client, std::string& bytes, const Flood& flooded, std::string_view id) {
    bytes = flooded.rest + client_frame(0x1, fmt::format(R"({{"id":"{}","chat":{{"model":"qwen3:14b"}}}})", id));
    asio::async_write(client.stream().next_layer(), asio::buffer(bytes), [](boost::system::error_code ec, std::size_t) {
        EXPECT_FALSE(ec) << ec.message();
    });
}

// One message per class of invalid input, each answered with one error frame; the socket then
// still runs a chat.
TEST_F(WebSocketHostileTest, InvalidMessagesGetAnErrorFrameEachAndTheSocketStaysUsable) {
    const std::string huge_id(10'000, 'x');
    const struct {
        std::string message;
        std::string id;     // the id the error frame carries
        std::string error;  // a part of its message
    } cases[] = {
        {"not json", "", "a message is"},
        {"[1,2,3]", "", "a message is"},
        {R"("just a string")", "", "a message is"},
        {R"({"id":5,"chat":{}})", "", "a message is"},
        {R"({"chat":{}})", "", "a message is"},
        {fmt::format(R"({{"id":"{}","chat":{{}}}})", huge_id), "", "an id is at most 128 bytes"},
        {R"({"id":"n"})", "n", "no \"chat\" object"},
        {R"({"id":"s","chat":"hi"})", "s", "no \"chat\" object"},
        {R"({"id":"x","cancel":false})", "x", "no \"chat\" object"},
    };
    WsClient client(port());
    for (const auto& c : cases) {
        client.send(c.message);
        const auto frame = client.read();
        ASSERT_TRUE(frame) << c.message.substr(0, 80);
        EXPECT_EQ(frame->id, c.id) << c.message.substr(0, 80);
        EXPECT_NE(frame->error.find(c.error), std::string::npos) << frame->raw;
        EXPECT_LT(frame->raw.size(), 256u) << "an error frame repeats what the client sent";
    }
    client.chat("ok");
    EXPECT_TRUE(client.read_until_end_of("ok").back().done);
    EXPECT_EQ(ollama.requests().size(), 1u);
}

TEST_F(WebSocketHostileTest, BinaryMessageIsClosedWith1003) {
    WsClient client(port());
    client.stream().binary(true);
    client.chat("b");
    EXPECT_EQ(client.read_until_closed(), static_cast<unsigned>(websocket::close_code::unknown_data));
    EXPECT_TRUE(ollama.requests().empty());
    expect_still_serving();
}

// Closed with 1009; or, when sluice closed while bytes it never read were still arriving, the
// kernel turned its close into a reset that overtook the close frame: closed all the same
// (only a read that timed out means sluice kept the socket).
void expect_closed_as_too_big(WsClient& client) {
    const auto code = client.read_until_closed();
    if (client.last_error() == websocket::error::closed) {
        EXPECT_EQ(code, static_cast<unsigned>(websocket::close_code::too_big));
    } else {  // a reset or a broken pipe: gone, not still waiting
        EXPECT_NE(client.last_error(), asio::error::timed_out);
    }
}

TEST_F(WebSocketHostileTest, MessageOverMaxBodyBytesIsClosedWith1009) {
    WsClient whole(port());
    boost::system::error_code ec;  // sluice may close before it has all of it
    whole.stream().write(asio::buffer(fmt::format(R"({{"id":"big","chat":{{"pad":"{}"}}}})", std::string(max_body_bytes, 'x'))), ec);
    expect_closed_as_too_big(whole);

    // In fragments, each small: the message's total counts.
    WsClient fragmented(port());
    const std::string piece(16 * 1024, ' ');
    ec = {};
    for (std::size_t sent = 0; sent <= max_body_bytes && !ec; sent += piece.size()) {
        fragmented.stream().write_some(false, asio::buffer(piece), ec);
    }
    expect_closed_as_too_big(fragmented);
    EXPECT_TRUE(ollama.requests().empty());
    expect_still_serving();
}

TEST_F(WebSocketHostileTest, FragmentedMessageIsReassembled) {
    WsClient client(port());
    const std::string message = R"({"id":"f","chat":{"model":"qwen3:14b","messages":[{"role":"user","content":"hi"}]}})";
    for (std::size_t at = 0; at < message.size(); at += 7) {
        client.stream().write_some(at + 7 >= message.size(), asio::buffer(message.substr(at, 7)));
    }
    EXPECT_TRUE(client.read_until_end_of("f").back().done);
}

TEST_F(WebSocketHostileTest, InvalidUtf8IsClosedWith1007) {
    WsClient client(port());
    client.send("{\"id\":\"u\",\"chat\":{\"model\":\"\xff\xfe\"}}");
    EXPECT_EQ(client.read_until_closed(), static_cast<unsigned>(websocket::close_code::bad_payload));
    EXPECT_TRUE(ollama.requests().empty());
    expect_still_serving();
}

TEST_F(WebSocketHostileTest, ChatsBeyondMaxChatsAndDuplicateIdsGetAnErrorFrame) {
    ollama.set_knobs({.token_interval = 50ms, .tokens = 1000});
    WsClient client(port());
    for (std::size_t i = 0; i < WsSession::max_chats; ++i) client.chat(fmt::format("c{}", i));
    client.chat("c0");
    client.chat("one-too-many");
    bool duplicate = false;
    bool too_many = false;
    while (!(duplicate && too_many)) {
        const auto frame = client.read();
        ASSERT_TRUE(frame);
        if (frame->id == "c0" && !frame->error.empty()) {
            EXPECT_NE(frame->error.find("still in flight"), std::string::npos) << frame->raw;
            duplicate = true;
        }
        if (frame->id == "one-too-many") {
            EXPECT_NE(frame->error.find("at most 16 chats"), std::string::npos) << frame->raw;
            too_many = true;
        }
    }
}

TEST_F(WebSocketHostileTest, CancelOfAnUnknownIdIsIgnored) {
    WsClient client(port());
    client.cancel("nobody");
    client.chat("ok");
    const auto frames = client.read_until_end_of("ok");
    for (const auto& frame : frames) EXPECT_EQ(frame.id, "ok") << frame.raw;
    EXPECT_TRUE(frames.back().done);
}

// Issue 11, item 4: error frames were queued without bound for a client that never reads
// (RSS 58 MB -> 2.9 GB in 38 s). Now sluice stops reading it: its own writes block, nothing
// is lost, and reading resumes once it reads.
TEST_F(WebSocketHostileTest, FloodOfInvalidMessagesFromAClientThatNeverReadsIsNoLongerRead) {
    std::string bytes;  // outlives the client, whose io_context may still hold a write of it
    WsClient client(port());
    const auto invalid = client_frame(0x1, std::string(120, 'x'));
    const auto flooded = flood(client, invalid);
    ASSERT_LT(flooded.frames * invalid.size(), flood_limit) << "sluice kept reading a client that reads nothing";

    expect_still_serving();

    // Every message gets its error frame, in order, then the chat after them runs.
    chat_after(client, bytes, flooded, "last");
    std::size_t errors = 0;
    while (const auto frame = client.read(60s)) {  // the buffers hold many frames: slow on a loaded machine
        if (frame->id == "last") {
            if (frame->done) break;
            continue;
        }
        ASSERT_NE(frame->error.find("a message is"), std::string::npos) << frame->raw;
        ++errors;
    }
    EXPECT_EQ(errors, flooded.frames);
}

TEST_F(WebSocketHostileTest, PingFloodFromAClientThatNeverReadsIsNoLongerRead) {
    std::string bytes;  // outlives the client, whose io_context may still hold a write of it
    WsClient client(port());
    const auto ping = client_frame(0x9, std::string(120, 'p'));
    const auto flooded = flood(client, ping);
    ASSERT_LT(flooded.frames * ping.size(), flood_limit) << "sluice kept reading a client that reads nothing";
    expect_still_serving();
    chat_after(client, bytes, flooded, "after-pings");  // the client's reads take the pongs and drop them
    EXPECT_TRUE(client.read_until_end_of("after-pings", 60s).back().done);
}

// Chats whose frames nobody reads stop Ollama's production (each chat's budget), and sluice
// serves others meanwhile.
// Ollama's response header is read within one limit on both front ends (UpstreamCall): a 70 KB
// field, more than Beast stores, fails the chat with the very text a proxied chat's 502 carries,
// and a 20 KB one, past Beast's own 8 KiB default, comes through.
TEST_F(WebSocketHostileTest, AnOversizeHeaderFieldFromOllamaReadsAsOverHttp) {
    const std::string chat = R"({"model":"qwen3:14b","messages":[{"role":"user","content":"hi"}]})";
    LongHeaderUpstream oversize(70'000);
    start({}, oversize.url());
    const auto over_http = request("POST", "/api/chat", chat);
    ASSERT_EQ(over_http.status, 502u);
    WsClient page(port());
    ASSERT_TRUE(page.open());
    page.send(R"({"id":"big","chat":)" + chat + "}");
    auto frames = page.read_until_end_of("big");
    ASSERT_FALSE(frames.empty());
    ASSERT_FALSE(frames.back().error.empty()) << frames.back().raw;
    EXPECT_EQ(over_http.body, json_error_body(frames.back().error));

    LongHeaderUpstream long_field(20'000);
    start({}, long_field.url());
    WsClient next_page(port());
    ASSERT_TRUE(next_page.open());
    next_page.send(R"({"id":"long","chat":)" + chat + "}");
    frames = next_page.read_until_end_of("long");
    ASSERT_FALSE(frames.empty());
    EXPECT_TRUE(frames.back().done) << frames.back().raw;
    EXPECT_NE(frames.back().raw.find(R"("status":301)"), std::string::npos) << frames.back().raw;
}

TEST_F(WebSocketHostileTest, ChatsOfAClientThatNeverReadsStallOllama) {
    ollama.set_knobs({.token_interval = 0us, .tokens = 1'000'000});
    WsClient client(port());
    for (int i = 0; i < 4; ++i) client.chat(fmt::format("c{}", i));
    const auto stalled_at = ollama.wait_production_stalled(30s);
    EXPECT_LT(stalled_at, 4'000'000u);
    ollama.set_knobs({.tokens = 3});
    expect_still_serving();
    client.drop();
    EXPECT_TRUE(ollama.wait_streams_cancelled(4, 5s));
}

}  // namespace
}  // namespace sluice::test
