// fake_ollama_test: the fake Ollama itself, spoken to directly over loopback with TestClient.
#include "fake_ollama.hpp"
#include "test_client.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view chat_body =
    R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Why is the sky blue?"}]})";

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    while (!text.empty()) {
        const auto end = text.find('\n');
        if (end == std::string_view::npos) {
            lines.emplace_back(text);
            break;
        }
        lines.emplace_back(text.substr(0, end));
        text.remove_prefix(end + 1);
    }
    return lines;
}

// Lines of an SSE body: the payload of each `data: ` event.
std::vector<std::string> sse_events(std::string_view text) {
    std::vector<std::string> events;
    while (!text.empty()) {
        const auto end = text.find("\n\n");
        if (end == std::string_view::npos) break;
        const auto event = text.substr(0, end);
        if (event.starts_with("data: ")) events.emplace_back(event.substr(6));
        text.remove_prefix(end + 2);
    }
    return events;
}

// RFC 3339 in UTC with up to nine fraction digits, read leniently.
std::optional<std::chrono::system_clock::time_point> parse_created_at(const std::string& text) {
    std::tm utc{};
    int consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &utc.tm_year, &utc.tm_mon, &utc.tm_mday, &utc.tm_hour,
                    &utc.tm_min, &utc.tm_sec, &consumed) != 6 || consumed != 19) {
        return std::nullopt;
    }
    utc.tm_year -= 1900;
    utc.tm_mon -= 1;
    std::string_view rest = std::string_view(text).substr(19);
    std::int64_t nanos = 0;
    if (rest.starts_with('.')) {
        rest.remove_prefix(1);
        int digits = 0;
        while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
            if (++digits > 9) return std::nullopt;
            nanos = nanos * 10 + (rest.front() - '0');
            rest.remove_prefix(1);
        }
        if (digits == 0) return std::nullopt;
        for (; digits < 9; ++digits) nanos *= 10;
    }
    if (rest != "Z") return std::nullopt;
    return std::chrono::system_clock::from_time_t(timegm(&utc)) +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(nanos));
}

std::string digest_of(char hex) { return "sha256:" + std::string(64, hex); }

std::string post_request(std::string_view target, std::string_view body) {
    return "POST " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

std::string chunk(std::string_view data) {
    char size[24];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return size + std::string(data) + "\r\n";
}

class FakeOllamaTest : public ::testing::Test {
protected:
    void set_knobs(int tokens, std::chrono::microseconds interval, StreamMode mode = StreamMode::normal,
                   int fail_after = 3) {
        FakeOllamaKnobs knobs;
        knobs.tokens = tokens;
        knobs.token_interval = interval;
        knobs.mode = mode;
        knobs.fail_after = fail_after;
        fake.set_knobs(knobs);
    }

    Response call(std::string_view method, std::string_view target, std::string_view body = {},
                  const std::vector<std::pair<std::string, std::string>>& headers = {}) {
        TestClient client(fake.port());
        return client.request(method, target, body, headers);
    }

    std::string error_of(const Response& response) {
        simdjson::dom::parser parser;
        return std::string(parser.parse(response.body)["error"].get_string().value());
    }

    FakeOllama fake;
};

TEST_F(FakeOllamaTest, ChatStreamArrivesLineByLineOverTime) {
    set_knobs(5, 40ms);
    const auto before = std::chrono::system_clock::now();
    const Response response = call("POST", "/api/chat", chat_body);

    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(response.header("Content-Type"), "application/x-ndjson");
    EXPECT_TRUE(response.chunked);
    const auto lines = split_lines(response.body);
    ASSERT_EQ(lines.size(), 6u);
    ASSERT_GE(response.pieces.size(), 6u);
    EXPECT_EQ(response.pieces.front().data, lines.front() + "\n") << "the first line must arrive alone";
    EXPECT_GE(response.pieces.back().at - response.pieces.front().at, 150ms) << "the lines came in one burst";

    std::optional<std::chrono::system_clock::time_point> previous;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        simdjson::dom::parser parser;
        const auto line = parser.parse(lines[i]);
        EXPECT_EQ(line["model"].get_string().value(), "qwen3:14b");
        EXPECT_EQ(line["message"]["role"].get_string().value(), "assistant");
        const auto created = parse_created_at(std::string(line["created_at"].get_string().value()));
        ASSERT_TRUE(created) << lines[i];
        EXPECT_LT(std::chrono::abs(*created - before), 60s);
        if (previous) {
            EXPECT_GE(*created, *previous);
        }
        previous = created;
        if (i + 1 < lines.size()) {
            EXPECT_FALSE(line["done"].get_bool().value());
            EXPECT_EQ(line["message"]["content"].get_string().value(), "tok" + std::to_string(i) + " ");
        }
    }

    simdjson::dom::parser parser;
    const auto final_line = parser.parse(lines.back());
    EXPECT_TRUE(final_line["done"].get_bool().value());
    EXPECT_EQ(final_line["done_reason"].get_string().value(), "stop");
    EXPECT_EQ(final_line["message"]["content"].get_string().value(), "");
    EXPECT_EQ(final_line["eval_count"].get_int64().value(), 5);
    EXPECT_EQ(final_line["eval_duration"].get_int64().value(), 5 * 40'000'000);
    EXPECT_GE(final_line["total_duration"].get_int64().value(), final_line["eval_duration"].get_int64().value());
    EXPECT_GT(final_line["load_duration"].get_int64().value(), 0);
    EXPECT_GT(final_line["prompt_eval_count"].get_int64().value(), 0);
    EXPECT_GT(final_line["prompt_eval_duration"].get_int64().value(), 0);
    EXPECT_EQ(fake.lines_sent(), 6u);
    EXPECT_EQ(fake.streams_cancelled(), 0u);

    const RecordedRequest request = fake.last_request();
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.target, "/api/chat");
    EXPECT_EQ(request.body, chat_body);
    EXPECT_EQ(request.body_bytes, chat_body.size());
}

TEST_F(FakeOllamaTest, GenerateStreamEndsWithContext) {
    set_knobs(3, 1ms);
    const Response response = call("POST", "/api/generate", R"({"model":"qwen3:14b","prompt":"Quantum"})");
    ASSERT_EQ(response.status, 200u);
    const auto lines = split_lines(response.body);
    ASSERT_EQ(lines.size(), 4u);
    simdjson::dom::parser parser;
    EXPECT_EQ(parser.parse(lines[1])["response"].get_string().value(), "tok1 ");
    const auto final_line = parser.parse(lines.back());
    EXPECT_EQ(final_line["done_reason"].get_string().value(), "stop");
    EXPECT_EQ(final_line["eval_count"].get_int64().value(), 3);
    EXPECT_EQ(final_line["eval_duration"].get_int64().value(), 3'000'000);
    EXPECT_EQ(simdjson::to_string(final_line["context"].value()), "[1,2,3]");
}

TEST_F(FakeOllamaTest, StreamFalseAnswersOneJsonObject) {
    set_knobs(3, 1ms);
    const Response response =
        call("POST", "/api/chat", R"({"model":"qwen3:14b","stream":false,"messages":[{"role":"user","content":"hi"}]})");
    ASSERT_EQ(response.status, 200u);
    EXPECT_EQ(response.header("Content-Type"), "application/json; charset=utf-8");
    EXPECT_FALSE(response.chunked);
    EXPECT_EQ(response.header("Content-Length"), std::to_string(response.body.size()));
    EXPECT_EQ(response.body.find('\n'), std::string::npos);
    simdjson::dom::parser parser;
    const auto answer = parser.parse(response.body);
    EXPECT_TRUE(answer["done"].get_bool().value());
    EXPECT_EQ(answer["message"]["content"].get_string().value(), "tok0 tok1 tok2 ");
    EXPECT_EQ(answer["eval_count"].get_int64().value(), 3);
}

TEST_F(FakeOllamaTest, RejectsBadRequestsLikeOllama) {
    const Response invalid = call("POST", "/api/chat", "xyz");
    EXPECT_EQ(invalid.status, 400u);
    EXPECT_EQ(error_of(invalid), "invalid character 'x' looking for beginning of value");

    const Response no_model = call("POST", "/api/chat", R"({"messages":[{"role":"user","content":"hi"}]})");
    EXPECT_EQ(no_model.status, 400u);
    EXPECT_EQ(no_model.body, R"({"error":"model is required"})");

    const Response no_model_generate = call("POST", "/api/generate", R"({"prompt":"hi"})");
    EXPECT_EQ(no_model_generate.status, 400u);
    EXPECT_EQ(no_model_generate.body, R"({"error":"model is required"})");

    const Response unknown = call("POST", "/api/generate", R"({"model":"missing","prompt":"hi"})");
    EXPECT_EQ(unknown.status, 404u);
    EXPECT_EQ(unknown.body, R"({"error":"model 'missing' not found"})");

    const Response empty = call("POST", "/api/chat", "");
    EXPECT_EQ(empty.status, 400u);
    EXPECT_EQ(error_of(empty), "missing request body");

    const Response no_route = call("GET", "/api/nothing");
    EXPECT_EQ(no_route.status, 404u);
    EXPECT_EQ(no_route.body, "404 page not found");

    const Response wrong_method = call("GET", "/api/chat");
    EXPECT_EQ(wrong_method.status, 405u);
    EXPECT_EQ(wrong_method.header("Allow"), "POST");
    EXPECT_EQ(fake.lines_sent(), 0u);
}

TEST_F(FakeOllamaTest, ServesTheSimpleRoutes) {
    TestClient client(fake.port());
    const Response root = client.request("GET", "/");
    EXPECT_EQ(root.status, 200u);
    EXPECT_EQ(root.body, "Ollama is running");
    EXPECT_EQ(root.header("Content-Type"), "text/plain; charset=utf-8");

    const Response version = client.request("HEAD", "/api/version");
    EXPECT_EQ(version.status, 200u);
    EXPECT_EQ(version.header("Content-Length"), "20");
    EXPECT_TRUE(version.body.empty());

    const Response tags = client.request("GET", "/api/tags");
    simdjson::dom::parser parser;
    EXPECT_EQ(parser.parse(tags.body)["models"].get_array().value().size(), 3u);

    EXPECT_EQ(client.request("POST", "/api/show", "{}").status, 400u);
    const Response show = client.request("POST", "/api/show", R"({"model":"qwen3:14b"})");
    EXPECT_EQ(show.status, 200u);
    EXPECT_EQ(parser.parse(show.body)["model_info"]["qwen3.block_count"].get_int64().value(), 40);

    const Response embed = client.request("POST", "/api/embed", R"({"model":"nomic-embed-text","input":"hi"})");
    EXPECT_EQ(parser.parse(embed.body)["embeddings"].get_array().value().size(), 1u);
    EXPECT_EQ(client.request("DELETE", "/api/delete", R"({"model":"qwen3:14b"})").status, 200u);
    EXPECT_EQ(client.request("DELETE", "/api/delete", R"({"model":"missing"})").status, 404u);
    EXPECT_EQ(fake.connections_accepted(), 1u);
}

TEST_F(FakeOllamaTest, RefusesForeignHostAndOrigin) {
    const Response foreign_host = call("GET", "/api/version", {}, {{"Host", "evil.example.com"}});
    EXPECT_EQ(foreign_host.status, 403u);
    EXPECT_TRUE(foreign_host.body.empty());
    EXPECT_EQ(foreign_host.header("Content-Length"), "0");

    EXPECT_EQ(call("GET", "/api/version", {}, {{"Host", "localhost:11434"}}).status, 200u);
    EXPECT_EQ(call("GET", "/api/version", {}, {{"Host", "10.1.2.3:11434"}}).status, 200u);
    EXPECT_EQ(call("GET", "/api/version", {}, {{"Host", "[::1]:11434"}}).status, 200u);
    EXPECT_EQ(call("GET", "/api/version", {}, {{"Host", "box.localhost"}}).status, 200u);

    const Response foreign_origin =
        call("POST", "/api/chat", chat_body, {{"Origin", "http://gpu-box:8434"}});
    EXPECT_EQ(foreign_origin.status, 403u);
    EXPECT_TRUE(foreign_origin.body.empty());
    EXPECT_EQ(call("GET", "/api/version", {}, {{"Origin", "http://localhost:5173"}}).status, 200u);
    EXPECT_EQ(call("GET", "/api/version", {}, {{"Host", "box.local:8434"}, {"Origin", "http://box.local:8434"}}).status,
              200u);
    EXPECT_EQ(fake.lines_sent(), 0u);
}

TEST_F(FakeOllamaTest, BlobUploadIsCountedThenFound) {
    const std::string digest = digest_of('a');
    TestClient client(fake.port());
    EXPECT_EQ(client.request("HEAD", "/api/blobs/" + digest).status, 404u);
    EXPECT_EQ(client.request("HEAD", "/api/blobs/sha256:abc").status, 400u);

    const std::string body(300'000, 'b');
    client.send_raw("POST /api/blobs/" + digest + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_EQ(client.read_response(false, 2s).status, 100u);
    client.send_raw(body);
    const Response created = client.read_response(false, 5s);
    EXPECT_EQ(created.status, 201u);
    const RecordedRequest upload = fake.last_request();
    EXPECT_EQ(upload.body_bytes, body.size());
    EXPECT_TRUE(upload.body.empty());

    EXPECT_EQ(client.request("HEAD", "/api/blobs/" + digest).status, 200u);
    EXPECT_EQ(client.request("HEAD", "/api/blobs/sha256-" + std::string(64, 'a')).status, 200u);

    // Chunked uploads are counted de-chunked.
    const std::string second = digest_of('c');
    client.send_raw("POST /api/blobs/" + second +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    EXPECT_EQ(client.read_response().status, 201u);
    EXPECT_EQ(fake.last_request().body_bytes, 11u);
    EXPECT_TRUE(fake.last_request().chunked);
    EXPECT_EQ(fake.connections_accepted(), 1u);
}

TEST_F(FakeOllamaTest, KnownBlobIsAnsweredWithoutReadingTheBody) {
    TestClient client(fake.port());
    client.send_raw("POST /api/blobs/" + digest_of('0') +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10737418240\r\nExpect: 100-continue\r\n\r\n");
    const Response response = client.read_response(false, 2s);
    EXPECT_EQ(response.status, 200u) << "no 100 Continue for a blob that exists";
    EXPECT_FALSE(response.keep_alive);
    EXPECT_EQ(fake.last_request().body_bytes, 0u);
    EXPECT_TRUE(client.wait_closed(2s));

    // A blob uploaded earlier is known too, even while its body is being sent.
    const std::string digest = digest_of('d');
    EXPECT_EQ(call("POST", "/api/blobs/" + digest, "12345").status, 201u);
    TestClient again(fake.port());
    again.send_raw("POST /api/blobs/" + digest + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n" +
                   std::string(1000, 'z'));
    EXPECT_EQ(again.read_response(false, 2s).status, 200u);
    EXPECT_EQ(fake.last_request().body_bytes, 0u);
}

TEST_F(FakeOllamaTest, AbruptCloseEndsWithoutTerminatingChunk) {
    set_knobs(8, 1ms, StreamMode::abrupt_close, 2);
    TestClient client(fake.port());
    client.send_raw(post_request("/api/chat", chat_body));
    const Response head = client.read_header(2s);
    ASSERT_EQ(head.status, 200u);
    std::string body;
    std::string failure;
    try {
        for (std::string piece = client.read_body_piece(2s); !piece.empty(); piece = client.read_body_piece(2s)) {
            body += piece;
        }
    } catch (const std::runtime_error& e) {
        failure = e.what();
    }
    EXPECT_FALSE(failure.empty()) << "the body ended normally";
    EXPECT_EQ(failure.find("timed out"), std::string::npos) << failure;
    EXPECT_EQ(split_lines(body).size(), 2u);
    EXPECT_EQ(fake.streams_cancelled(), 0u);
}

TEST_F(FakeOllamaTest, ErrorMidstreamEndsTheStreamProperly) {
    set_knobs(8, 1ms, StreamMode::error_midstream, 2);
    TestClient client(fake.port());
    const Response response = client.request("POST", "/api/chat", chat_body);
    ASSERT_EQ(response.status, 200u);
    const auto lines = split_lines(response.body);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[2], R"({"error":"an error was encountered while running the model: unexpected EOF"})");
    EXPECT_EQ(client.request("GET", "/api/version").status, 200u) << "the connection stays usable";
    EXPECT_EQ(fake.streams_cancelled(), 0u);
}

TEST_F(FakeOllamaTest, ClientCloseDuringStallCountsAsCancelled) {
    set_knobs(8, 1ms, StreamMode::stall, 1);
    TestClient client(fake.port());
    client.send_raw(post_request("/api/chat", chat_body));
    ASSERT_EQ(client.read_header(2s).status, 200u);
    EXPECT_FALSE(client.read_body_piece(2s).empty());
    EXPECT_THROW(client.read_body_piece(100ms), std::runtime_error);
    EXPECT_EQ(fake.streams_cancelled(), 0u);
    EXPECT_EQ(fake.open_connections(), 1u);
    client.close();
    EXPECT_TRUE(fake.wait_streams_cancelled(1, 2s));
    EXPECT_EQ(fake.lines_sent(), 1u);
    for (int i = 0; i < 100 && fake.open_connections() != 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(fake.open_connections(), 0u);
}

TEST_F(FakeOllamaTest, PeerCloseIsSeenWhileSleepingBetweenTokens) {
    set_knobs(3, 5s);
    TestClient client(fake.port());
    client.send_raw(post_request("/api/generate", R"({"model":"qwen3:14b","prompt":"hi"})"));
    ASSERT_EQ(client.read_header(2s).status, 200u);
    EXPECT_FALSE(client.read_body_piece(2s).empty());
    const auto closed_at = Clock::now();
    client.shutdown_send();
    EXPECT_TRUE(fake.wait_streams_cancelled(1, 2s));
    EXPECT_LT(Clock::now() - closed_at, 1s);
}

TEST_F(FakeOllamaTest, FirstByteDelayHoldsBackTheWholeResponse) {
    FakeOllamaKnobs knobs;
    knobs.first_byte_delay = 150ms;
    knobs.tokens = 1;
    fake.set_knobs(knobs);
    TestClient client(fake.port());
    const auto sent = Clock::now();
    client.send_raw(post_request("/api/chat", chat_body));
    EXPECT_THROW(client.read_header(50ms), std::runtime_error) << "bytes before first_byte_delay";
    const Response response = client.read_response(false, 2s);
    EXPECT_EQ(response.status, 200u);
    EXPECT_GE(response.pieces.front().at - sent, 150ms);
}

TEST_F(FakeOllamaTest, KeepAliveReusesOneConnection) {
    set_knobs(2, 1ms);
    TestClient client(fake.port());
    const Response first = client.request("POST", "/api/chat", chat_body);
    const Response second = client.request("GET", "/api/version");
    EXPECT_EQ(first.status, 200u);
    EXPECT_TRUE(first.keep_alive);
    EXPECT_EQ(second.body, R"({"version":"0.12.6"})");
    EXPECT_EQ(fake.connections_accepted(), 1u);
    const auto requests = fake.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].connection_id, requests[1].connection_id);
    EXPECT_EQ(requests[0].headers.front().first, "Host");
    EXPECT_EQ(requests[0].header("content-length"), std::to_string(chat_body.size()));
}

TEST_F(FakeOllamaTest, OpenAiChatStreamsSseAndAnswersWholeByDefault) {
    set_knobs(2, 1ms);
    const Response stream = call("POST", "/v1/chat/completions",
                                 R"({"model":"qwen3:14b","stream":true,"stream_options":{"include_usage":true},)"
                                 R"("messages":[{"role":"user","content":"hi"}]})");
    ASSERT_EQ(stream.status, 200u);
    EXPECT_EQ(stream.header("Content-Type"), "text/event-stream");
    const auto events = sse_events(stream.body);
    ASSERT_EQ(events.size(), 5u);  // two tokens, finish, usage, [DONE]
    EXPECT_TRUE(stream.body.ends_with("data: [DONE]\n\n"));
    simdjson::dom::parser parser;
    EXPECT_EQ(parser.parse(events[0])["choices"].at(0)["delta"]["role"].get_string().value(), "assistant");
    EXPECT_EQ(parser.parse(events[2])["choices"].at(0)["finish_reason"].get_string().value(), "stop");
    EXPECT_EQ(parser.parse(events[3])["usage"]["completion_tokens"].get_int64().value(), 2);

    const Response whole = call("POST", "/v1/chat/completions", R"({"model":"qwen3:14b","messages":[]})");
    ASSERT_EQ(whole.status, 200u);
    const auto answer = parser.parse(whole.body);
    EXPECT_EQ(answer["object"].get_string().value(), "chat.completion");
    EXPECT_EQ(answer["choices"].at(0)["message"]["content"].get_string().value(), "tok0 tok1 ");

    const Response missing = call("POST", "/v1/completions", R"({"model":"missing","prompt":"x"})");
    EXPECT_EQ(missing.status, 404u);
    EXPECT_EQ(parser.parse(missing.body)["error"]["type"].get_string().value(), "not_found_error");
}

TEST_F(FakeOllamaTest, PullStreamsProgressUntilSuccess) {
    set_knobs(8, 1ms);
    const Response response = call("POST", "/api/pull", R"({"model":"qwen3:14b"})");
    ASSERT_EQ(response.status, 200u);
    const auto lines = split_lines(response.body);
    ASSERT_EQ(lines.size(), 7u);
    EXPECT_EQ(lines.front(), R"({"status":"pulling manifest"})");
    EXPECT_EQ(lines[6], R"({"status":"success"})");
}

TEST_F(FakeOllamaTest, HugeLineCarriesAContentStringOfTheAskedSize) {
    FakeOllamaKnobs knobs;
    knobs.mode = StreamMode::huge_line;
    knobs.huge_line_bytes = 300'000;
    fake.set_knobs(knobs);
    const Response response = call("POST", "/api/chat", chat_body);
    const auto lines = split_lines(response.body);
    ASSERT_EQ(lines.size(), 2u);
    simdjson::dom::parser parser;
    EXPECT_EQ(parser.parse(lines[0])["message"]["content"].get_string().value().size(), 300'000u);
    EXPECT_TRUE(parser.parse(lines[1])["done"].get_bool().value());
}

TEST_F(FakeOllamaTest, ChunkedRequestBodyIsRecordedDechunked) {
    set_knobs(1, 1ms);
    TestClient client(fake.port());
    client.send_raw("POST /api/chat?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trace: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
                    chunk(R"({"model":"qwen3)") + chunk(R"(:14b","stream":f)") + chunk("alse}\n") + "0\r\n\r\n");
    const Response response = client.read_response();
    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(response.header("Content-Type"), "application/json; charset=utf-8");
    const RecordedRequest request = fake.last_request();
    EXPECT_EQ(request.target, "/api/chat?x=1");
    EXPECT_TRUE(request.chunked);
    EXPECT_EQ(request.body, "{\"model\":\"qwen3:14b\",\"stream\":false}\n");
    EXPECT_EQ(request.body_bytes, request.body.size());
    ASSERT_EQ(request.headers.size(), 3u);
    EXPECT_EQ(request.headers[1].first, "X-Trace");
}

TEST(FakeOllamaLifetime, StopsPromptlyWithStreamsAndIdleConnectionsOpen) {
    std::optional<FakeOllama> fake(std::in_place);
    FakeOllamaKnobs knobs;
    knobs.mode = StreamMode::stall;
    knobs.fail_after = 1;
    fake->set_knobs(knobs);
    TestClient stalled(fake->port());
    stalled.send_raw(post_request("/api/chat", chat_body));
    ASSERT_EQ(stalled.read_header(2s).status, 200u);
    TestClient idle(fake->port());
    EXPECT_EQ(idle.request("GET", "/").status, 200u);

    const auto start = Clock::now();
    fake.reset();
    EXPECT_LT(Clock::now() - start, 1s);
    EXPECT_TRUE(stalled.wait_closed(1s));
    EXPECT_TRUE(idle.wait_closed(1s));
}

}  // namespace
}  // namespace sluice::test
