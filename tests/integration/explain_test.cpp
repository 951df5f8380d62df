// Integration tests of `sluice explain`: the rewrite of one body against the fake Ollama's
// installed models, through explain_request() and through the real binary's stdin and stdout.
#include "fake_ollama.hpp"

#include "sluice/explain.hpp"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sluice::test {
namespace {

// Line 5 is the rule (`- match:`), as `sluice explain` reports it.
constexpr std::string_view rules = R"(
rewrite:
  gpu_memory: 24GiB
  models:
    - match: "qwen3:14b*"
      prefer: ["-fp8", "-q8_0"]
      options: {num_ctx: auto}
      keep_alive: 30m
)";

constexpr std::string_view chat = R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello there"}]})";

Config config_for(std::string_view yaml, const std::string& upstream) {
    Config config = parse_config(yaml, "sluice.yaml");
    config.upstreams = single_upstream(parse_upstream_url(upstream));
    return config;
}

// A port on loopback where nothing listens.
std::uint16_t closed_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return probe.local_endpoint().port();  // closed when probe goes
}

bool contains(const std::vector<std::string>& lines, std::string_view line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
}

bool any_starts_with(const std::vector<std::string>& lines, std::string_view prefix) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) { return line.starts_with(prefix); });
}

std::string joined(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& line : lines) text += line + "\n";
    return text;
}

TEST(Explain, RewritesWithTheInstalledModelsAndSaysWhichRuleAndWhy) {
    FakeOllama ollama;
    const Explanation explanation = explain_request(config_for(rules, ollama.url()), "sluice.yaml", "/api/chat", chat);
    EXPECT_EQ(explanation.body, R"({"model":"qwen3:14b-q8_0","messages":[{"role":"user","content":"Hello there"}],)"
                                R"("options":{"num_ctx":40960},"keep_alive":"30m"})");
    const auto& lines = explanation.lines;
    EXPECT_TRUE(contains(lines, fmt::format("ollama at {}: 3 installed: qwen3:14b, qwen3:14b-q8_0, nomic-embed-text:latest",
                                            ollama.url())))
        << joined(lines);
    EXPECT_TRUE(contains(lines, R"(rule: sluice.yaml:5: match "qwen3:14b*")")) << joined(lines);
    EXPECT_TRUE(contains(lines, "change: model=qwen3:14b-q8_0")) << joined(lines);
    EXPECT_TRUE(contains(lines, "change: num_ctx=40960")) << joined(lines);
    EXPECT_TRUE(contains(lines, "change: keep_alive=30m")) << joined(lines);
    EXPECT_TRUE(contains(lines, "X-Sluice-Rewrite: model=qwen3:14b-q8_0; num_ctx=40960; keep_alive=30m")) << joined(lines);
    EXPECT_TRUE(any_starts_with(lines, R"(reason: prefer: using the installed variant "qwen3:14b-q8_0")")) << joined(lines);
    EXPECT_TRUE(any_starts_with(lines, R"(reason: num_ctx auto for "qwen3:14b-q8_0": KV cache 160 KiB/token (f16))"))
        << joined(lines);
    // It asked Ollama what is installed, as sluice does at start-up, and nothing else.
    const auto requests = ollama.requests();
    ASSERT_FALSE(requests.empty());
    EXPECT_EQ(requests.front().target, "/api/tags");
    EXPECT_TRUE(std::all_of(requests.begin(), requests.end(),
                            [](const RecordedRequest& r) { return r.target == "/api/tags" || r.target == "/api/show"; }));
}

TEST(Explain, OllamaUnreachableIsSaidAndTheRulesWithoutModelFactsStillApply) {
    const std::string url = fmt::format("http://127.0.0.1:{}", closed_port());
    const Explanation explanation = explain_request(config_for(rules, url), "sluice.yaml", "/api/chat", chat);
    EXPECT_EQ(explanation.body,
              R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello there"}],"keep_alive":"30m"})");
    EXPECT_EQ(explanation.lines.front(),
              fmt::format("ollama at {} cannot say what is installed (Connection refused): explaining without model "
                          "facts, so prefer and num_ctx: auto change nothing",
                          url));
    EXPECT_TRUE(contains(explanation.lines, "change: keep_alive=30m")) << joined(explanation.lines);
    EXPECT_FALSE(any_starts_with(explanation.lines, "change: model=")) << joined(explanation.lines);
}

TEST(Explain, NoMatchingRuleGivesTheOriginalBody) {
    FakeOllama ollama;
    constexpr std::string_view body = R"({ "model" : "llama3.2:3b", "prompt": "Hi" })";
    const Explanation explanation = explain_request(config_for(rules, ollama.url()), "sluice.yaml", "/api/generate", body);
    EXPECT_EQ(explanation.body, body);
    EXPECT_TRUE(contains(explanation.lines, "rule: none matches")) << joined(explanation.lines);
    EXPECT_TRUE(contains(explanation.lines, "unchanged: the body goes to Ollama as it is")) << joined(explanation.lines);
    EXPECT_TRUE(contains(explanation.lines, R"(reason: no rule matches model "llama3.2:3b")")) << joined(explanation.lines);
}

TEST(Explain, BodyThatIsNotJsonIsGivenBackAsItIs) {
    FakeOllama ollama;
    constexpr std::string_view body = "model=qwen3:14b";
    const Explanation explanation = explain_request(config_for(rules, ollama.url()), "sluice.yaml", "/api/chat", body);
    EXPECT_EQ(explanation.body, body);
    EXPECT_TRUE(contains(explanation.lines, "reason: the body is not a JSON object: forwarded unchanged"))
        << joined(explanation.lines);
}

TEST(Explain, WithoutRulesOllamaIsNotAsked) {
    FakeOllama ollama;
    const Explanation explanation = explain_request(config_for("log: {level: info}", ollama.url()), "sluice.yaml", "/api/chat", chat);
    EXPECT_EQ(explanation.body, chat);
    EXPECT_EQ(explanation.lines,
              std::vector<std::string>{"no rewrite rules (rewrite.models) in sluice.yaml: the body goes to Ollama unchanged"});
    EXPECT_TRUE(ollama.requests().empty());
}

// --- the command --------------------------------------------------------------------------

struct CommandResult {
    int status = -1;
    std::string out;
    std::string err;
};

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Runs `sluice <arguments>` with `input` on stdin; files in a directory of the test's own.
CommandResult run_sluice(const std::string& arguments, std::string_view input) {
    const auto directory = std::filesystem::path(testing::TempDir()) /
                           ("explain-" + std::string(testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(directory);
    std::ofstream(directory / "in", std::ios::binary) << input;
    const std::string command = fmt::format("'{}' {} < '{}' > '{}' 2> '{}'", SLUICE_BINARY, arguments,
                                            (directory / "in").string(), (directory / "out").string(),
                                            (directory / "err").string());
    const int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(directory / "out"), read_file(directory / "err")};
}

std::string write_config(std::string_view name, std::string_view yaml) {
    const auto path = std::filesystem::path(testing::TempDir()) / name;
    std::ofstream(path, std::ios::binary) << yaml;
    return path.string();
}

TEST(ExplainCommand, PrintsTheBodyOnStdoutAndTheStoryOnStderr) {
    FakeOllama ollama;
    const std::string config = write_config("explain-rules.yaml", rules);
    const auto result = run_sluice(fmt::format("explain --config '{}' --upstream {} --path /api/chat", config, ollama.url()), chat);
    EXPECT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(result.out, R"({"model":"qwen3:14b-q8_0","messages":[{"role":"user","content":"Hello there"}],)"
                          R"("options":{"num_ctx":40960},"keep_alive":"30m"})");
    EXPECT_NE(result.err.find(fmt::format("\nrule: {}:5: match \"qwen3:14b*\"\n", config)), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("\nchange: model=qwen3:14b-q8_0\n"), std::string::npos) << result.err;
}

TEST(ExplainCommand, OllamaDownStillExplainsAndExitsZero) {
    const std::string config = write_config("explain-down.yaml", rules);
    const auto result = run_sluice(fmt::format("explain -c '{}' --upstream http://127.0.0.1:{}", config, closed_port()), chat);
    EXPECT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(result.out, R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello there"}],"keep_alive":"30m"})");
    EXPECT_NE(result.err.find("cannot say what is installed (Connection refused)"), std::string::npos) << result.err;
}

TEST(ExplainCommand, ConfigErrorExitsTwoNamingFileAndLine) {
    const std::string config = write_config("explain-bad.yaml", "rewrite:\n  models:\n    - match: \"*\"\n      think: maybe\n");
    const auto result = run_sluice(fmt::format("explain --config '{}'", config), chat);
    EXPECT_EQ(result.status, 2);
    EXPECT_TRUE(result.out.empty()) << result.out;
    EXPECT_NE(result.err.find(config + ":4: "), std::string::npos) << result.err;
}

}  // namespace
}  // namespace sluice::test
