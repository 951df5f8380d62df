// Unit tests: the statistics read from a stream's final line, the stream tail, the log line.
#include "sluice/access_log.hpp"
#include "sluice/json_error.hpp"

#include "fixtures.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice {
namespace {

using namespace std::chrono_literals;

using test::fixture;

TEST(GenerationStats, ReadFromTheFinalLineOfARealChatStream) {
    const auto stats = parse_generation_stats(fixture("chat-stream.ndjson"));
    ASSERT_TRUE(stats);
    ASSERT_TRUE(stats->eval_count);
    ASSERT_TRUE(stats->eval_duration_ns);
    ASSERT_TRUE(stats->tokens_per_second());
    EXPECT_NEAR(*stats->tokens_per_second(), *stats->eval_count * 1e9 / *stats->eval_duration_ns, 1e-9);
    EXPECT_EQ(stats->model, "qwen3:14b");
}

TEST(GenerationStats, ReadFromGenerateWithContext) {
    const auto stats = parse_generation_stats(fixture("generate-stream.ndjson"));
    ASSERT_TRUE(stats);
    EXPECT_TRUE(stats->eval_count);
}

TEST(GenerationStats, AbsentWhenTheStreamEndsWithAnErrorOrIsSse) {
    EXPECT_FALSE(parse_generation_stats(fixture("error-midstream.ndjson")));
    EXPECT_FALSE(parse_generation_stats(fixture("openai-chat-stream.sse")));
    EXPECT_FALSE(parse_generation_stats(R"({"model":"m","done":false})"));
    EXPECT_FALSE(parse_generation_stats("not json at all"));
    EXPECT_FALSE(parse_generation_stats(""));
}

TEST(GenerationStats, OmittedZeroFieldsStayEmpty) {
    const auto stats = parse_generation_stats(R"({"model":"m","done":true,"eval_count":3})");
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->eval_count, 3u);
    EXPECT_EQ(stats->model, "m");  // the metrics' model label
    EXPECT_FALSE(stats->eval_duration_ns);
    EXPECT_FALSE(stats->tokens_per_second());
}

TEST(GenerationStats, ReadEvenWhenTheFinalLineIsLongerThanTheTail) {
    // A long conversation's `context` array makes the final generate line larger than the tail.
    std::string line = R"({"model":"m","done":true,"context":[)";
    for (int i = 0; i < 5000; ++i) line += std::to_string(100000 + i) + ",";
    line += R"(1],"total_duration":9,"eval_count":40,"eval_duration":500000000})";
    line += "\n";
    StreamTail tail;
    tail.append(R"({"model":"m","response":"x","done":false})" "\n");
    tail.append(line);
    const auto kept = tail.contents();
    ASSERT_EQ(kept.size(), StreamTail::capacity);
    const auto stats = parse_generation_stats(kept);
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->eval_count, 40u);
    EXPECT_DOUBLE_EQ(*stats->tokens_per_second(), 80.0);
    EXPECT_EQ(stats->model, "");  // it came before the kept tail
}

TEST(StreamTail, KeepsTheLastBytesAcrossWraps) {
    StreamTail tail;
    std::string all;
    for (int i = 0; i < 1000; ++i) {
        const auto piece = "line " + std::to_string(i) + "\n";
        tail.append(piece);
        all += piece;
    }
    EXPECT_EQ(tail.contents(), all.substr(all.size() - StreamTail::capacity));
    tail.clear();
    tail.append("abc");
    EXPECT_EQ(tail.contents(), "abc");
}

// A chat answered 200, from `client`, that started at 1 s.
ExchangeRecord chat_from(std::string client) {
    ExchangeRecord record;
    record.client = std::move(client);
    record.method = "POST";
    record.target = "/api/chat";
    record.status = 200;
    record.start = Clock::time_point{} + 1s;
    return record;
}

TEST(AccessLine, SaysWhatAUserNeedsToSee) {
    auto record = chat_from("127.0.0.1");
    record.bytes_in = 60;
    record.bytes_out = 1234;
    record.first_byte = record.start + 250ms;
    record.generation = true;
    record.stats = GenerationStats{};
    record.stats->prompt_eval_count = 12;
    record.stats->eval_count = 80;
    record.stats->eval_duration_ns = 1'000'000'000;
    record.stats->model = "qwen3:14b";
    EXPECT_EQ(format_access_line(record, record.start + 1500ms),
              "127.0.0.1 POST /api/chat 200 in=60 out=1234 1500.0ms ttft=250.0ms prompt=12tok eval=80tok 80.0tok/s "
              "model=qwen3:14b");
    record.stats.reset();
    record.outcome = "client went away";
    EXPECT_EQ(format_access_line(record, record.start + 1500ms),
              "127.0.0.1 POST /api/chat 200 in=60 out=1234 1500.0ms ttft=250.0ms (client went away)");
}

// The model the client asked for, what the rewriter changed (the model it chose among them), and
// the key: key=value fields a client's text can neither end early nor forge.
TEST(AccessLine, NamesTheModelAndTheRewriteSoThatClientTextCannotForgeFields) {
    auto record = chat_from("10.0.0.7");
    record.model = "qwen3:14b";
    record.rewrites = "model=qwen3:14b-q8_0; num_ctx=8192";
    record.key = "laptop";
    record.stats = GenerationStats{};
    record.stats->model = "qwen3:14b-q8_0";  // what ran; the line names what was asked
    EXPECT_EQ(format_access_line(record, record.start + 2ms),
              R"(10.0.0.7 POST /api/chat 200 in=0 out=0 2.0ms model=qwen3:14b rewrite="model=qwen3:14b-q8_0; num_ctx=8192" key=laptop)");
    record.model = "a key=admin\n";
    record.rewrites = R"(model=x" key=admin)";
    EXPECT_EQ(format_access_line(record, record.start + 2ms),
              R"(10.0.0.7 POST /api/chat 200 in=0 out=0 2.0ms model=a\x20key=admin\x0a rewrite="model=x\x22 key=admin" key=laptop)");
}

TEST(JsonError, EscapesTheMessage) {
    EXPECT_EQ(json_error_body("plain"), R"({"error":"plain"})");
    EXPECT_EQ(json_error_body("a \"b\" \\ \n\x01"), R"({"error":"a \"b\" \\ \n\u0001"})");
    // A client's bytes need not be UTF-8; the body is JSON whatever they are.
    EXPECT_EQ(json_error_body("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "{\"error\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}");
    EXPECT_EQ(json_error_body("/\xff\xfe_x"), "{\"error\":\"/\ufffd\ufffd_x\"}");
    EXPECT_EQ(json_error_body("\xc0\xaf \xed\xa0\x80 \xe2\x82"), "{\"error\":\"\ufffd\ufffd \ufffd\ufffd\ufffd \ufffd\ufffd\"}");
}

}  // namespace
}  // namespace sluice
