// Integration tests of `sluice bench`: run_user_bench against the fake Ollama, directly and
// through a real Server in front of it, and its errors when something is missing.
#include "child_process.hpp"
#include "sluice_under_test.hpp"

#include "sluice/tls_cert.hpp"
#include "sluice/user_bench.hpp"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

// A port on loopback where nothing listens.
std::uint16_t closed_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return probe.local_endpoint().port();  // closed when probe goes
}

std::size_t count(const std::vector<RecordedRequest>& requests, std::string_view needle) {
    return static_cast<std::size_t>(std::count_if(requests.begin(), requests.end(), [&](const RecordedRequest& r) {
        return r.target == "/api/chat" && r.body.find(needle) != std::string::npos;
    }));
}

// sluice (a real Server, optionally with rewrite rules) in front of a fake Ollama.
class UserBench : public SluiceUnderTest {
protected:
    void start_sluice(std::string_view yaml = {}) {
        Config config = parse_config(yaml, "test.yaml");
        config.threads = 1;
        start(config);
    }
    std::string sluice_url() const { return fmt::format("http://127.0.0.1:{}", server->port()); }

    UserBenchOptions options(int prompts = 3) const {
        UserBenchOptions o;
        o.model = "qwen3:14b";
        o.ollama_url = ollama.url();
        o.sluice_url = server ? sluice_url() : fmt::format("http://127.0.0.1:{}", closed_port());
        o.prompts = prompts;
        o.timeout = 10s;
        return o;
    }

    struct Run {
        int status = -1;
        std::string out, err;
    };
    static Run run(const UserBenchOptions& o) {
        std::ostringstream out, err;
        const int status = run_user_bench(o, out, err);
        return {status, out.str(), err.str()};
    }
};

TEST_F(UserBench, TableListsBothPathsWithTheRightCounts) {
    ollama.set_knobs({.token_interval = 1ms, .tokens = 6});
    start_sluice();
    const Run result = run(options(3));
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find("| figure: median (min-max) | direct | sluice | sluice / direct |"), std::string::npos)
        << result.out;
    EXPECT_NE(result.out.find("| requests | 3 | 3 | |"), std::string::npos) << result.out;
    // 6 content lines and the final line per answer: eval_count 6 each.
    EXPECT_NE(result.out.find("| tokens generated (eval_count, all requests) | 18 | 18 | |"), std::string::npos)
        << result.out;
    // The fake reports eval_duration = 6 x 1 ms, so Ollama's figure is exactly 1000 tok/s on both paths.
    EXPECT_NE(result.out.find("| tokens/s, Ollama (eval_count / eval_duration) | 1000.0 (1000.0-1000.0) | "
                              "1000.0 (1000.0-1000.0) | 1.000 |"),
              std::string::npos)
        << result.out;
    EXPECT_NE(result.out.find("| TTFT ms (request sent -> first byte) |"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("| tokens/s, client (lines / streaming time) |"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("order: direct and sluice alternating"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("sluice changed nothing"), std::string::npos) << result.out;

    // Ollama saw one warm-up (an empty conversation) and 3 prompts per path: 2 + 6 chats, streamed.
    const auto requests = ollama.requests();
    EXPECT_EQ(count(requests, R"("messages":[])"), 2u);
    EXPECT_EQ(count(requests, R"("role":"user")"), 6u);
    EXPECT_EQ(count(requests, R"("stream":true)"), 8u);
    EXPECT_EQ(count(requests, R"("num_predict":128)"), 6u);
    // Both paths asked the same questions in the same order: each question twice.
    EXPECT_EQ(count(requests, "why is the sky blue?"), 2u);
    EXPECT_EQ(count(requests, "haiku about autumn rain"), 2u);
}

// A sluice with tls: is measured over HTTPS, its certificate checked: against the system's CAs
// (which do not know `sluice cert`'s CA: the answer says to pass --ca), or the CA given.
TEST_F(UserBench, AnHttpsSluiceIsMeasuredTrustingTheCaGiven) {
    ollama.set_knobs({.token_interval = 1ms, .tokens = 6});
    const auto dir = std::filesystem::temp_directory_path() / fmt::format("sluice-bench-tls-{}", ::getpid());
    std::filesystem::remove_all(dir);
    const auto files = make_certificate({dir, {"localhost"}, {"127.0.0.1"}, 30});
    start_sluice(fmt::format("tls:\n  cert: {}\n  key: {}\n", files.cert.string(), files.key.string()));
    UserBenchOptions o = options(2);
    o.sluice_url = fmt::format("https://127.0.0.1:{}", server->port());
    const Run untrusted = run(o);
    EXPECT_EQ(untrusted.status, 1);
    EXPECT_NE(untrusted.err.find(fmt::format("sluice bench: sluice at https://127.0.0.1:{} presents a certificate this "
                                             "machine does not trust (certificate verify failed",
                                             server->port())),
              std::string::npos)
        << untrusted.err;
    o.ca_file = files.ca_cert.string();
    const Run trusted = run(o);
    EXPECT_EQ(trusted.status, 0) << trusted.err;
    EXPECT_NE(trusted.out.find("| requests | 2 | 2 | |"), std::string::npos) << trusted.out;
    o.ca_file = (dir / "missing.crt").string();
    EXPECT_EQ(run(o).status, 2);
    std::filesystem::remove_all(dir);
}

// `sluice bench --config` finds Ollama and sluice where the running sluice's config says (a
// wildcard listen address is reached on loopback); a flag still wins over the file.
TEST_F(UserBench, TheConfigFileNamesOllamaAndSluice) {
    ollama.set_knobs({.token_interval = 1ms, .tokens = 2});
    start_sluice();
    const auto config = std::filesystem::temp_directory_path() / fmt::format("sluice-bench-{}.yaml", ::getpid());
    std::ofstream(config) << fmt::format("listen: 0.0.0.0:{}\nallow_unauthenticated: true\nupstream: {}\n", server->port(),
                                         ollama.url());
    const auto run = run_sluice_to_end(fmt::format("bench --model qwen3:14b --prompts 1 --config {}", config.string()));
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_NE(run.output.find("| requests | 1 | 1 | |"), std::string::npos) << run.output;
    const auto wrong = run_sluice_to_end(fmt::format("bench --model qwen3:14b --prompts 1 --config {} --sluice http://127.0.0.1:{}",
                                                     config.string(), closed_port()));
    EXPECT_EQ(wrong.status, 1) << wrong.output;  // the flag, not the file, named the (closed) sluice
    std::ofstream(config) << "listen: nowhere:x\n";
    EXPECT_EQ(run_sluice_to_end(fmt::format("bench --model qwen3:14b --config {}", config.string())).status, 2);
    std::filesystem::remove(config);
}

TEST_F(UserBench, RulesThatLoadTheModelDifferentlyRunInBlocksAndAreNamed) {
    ollama.set_knobs({.token_interval = 1ms, .tokens = 6});
    start_sluice(R"(
rewrite:
  gpu_memory: 24GiB
  models:
    - match: "qwen3:14b*"
      prefer: ["-q8_0"]
      options: {num_ctx: auto}
)");
    const Run result = run(options(2));
    ASSERT_EQ(result.status, 0) << result.err;
    EXPECT_NE(result.out.find("| requests | 2 | 2 | |"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("X-Sluice-Rewrite: model=qwen3:14b-q8_0; num_ctx=40960"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("order: all through sluice, then all direct"), std::string::npos) << result.out;
    // The prefer rule sent sluice's requests to another model: each column names its model, and
    // no ratio credits sluice with the Q8 model's speed.
    EXPECT_NE(result.out.find("| figure: median (min-max) | direct: qwen3:14b | sluice: qwen3:14b-q8_0 | sluice / direct |"),
              std::string::npos)
        << result.out;
    EXPECT_NE(result.out.find("the two columns ran different models"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("1000.0 (1000.0-1000.0) | - (other model) |"), std::string::npos) << result.out;
    EXPECT_EQ(result.out.find("| 1.000 |"), std::string::npos) << result.out;
    // Warm-ups: direct, sluice, and direct again before the direct block.
    const auto requests = ollama.requests();
    EXPECT_EQ(count(requests, R"("messages":[])"), 3u);
    EXPECT_EQ(count(requests, R"("model":"qwen3:14b-q8_0")"), 3u);  // sluice's warm-up and 2 prompts
}

TEST_F(UserBench, ModelNotInstalledSaysHowToPullIt) {
    start_sluice();
    UserBenchOptions o = options();
    o.model = "missing-model:7b";
    const Run result = run(o);
    EXPECT_EQ(result.status, 1);
    EXPECT_TRUE(result.out.empty()) << result.out;
    EXPECT_NE(result.err.find(fmt::format("sluice bench: model \"missing-model:7b\" is not installed in Ollama at {} "
                                          "(Ollama says: model 'missing-model:7b' not found): pull it with "
                                          "`ollama pull missing-model:7b`",
                                          ollama.url())),
              std::string::npos)
        << result.err;
}

TEST_F(UserBench, OllamaUnreachableSaysToStartIt) {
    start_sluice();
    UserBenchOptions o = options();
    o.ollama_url = fmt::format("http://127.0.0.1:{}", closed_port());
    const Run result = run(o);
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find(fmt::format("sluice bench: cannot connect to Ollama at {} (Connection refused): start it "
                                          "(ollama serve) or pass --ollama URL.",
                                          o.ollama_url)),
              std::string::npos)
        << result.err;
    EXPECT_TRUE(ollama.requests().empty());
}

TEST_F(UserBench, SluiceUnreachableSaysToStartItInFrontOfOllama) {
    const Run result = run(options());  // no server started: the sluice URL is a closed port
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find("sluice bench: cannot connect to sluice at http://127.0.0.1:"), std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find(fmt::format("(Connection refused): start it in front of this Ollama (sluice --upstream {}) "
                                          "or pass --sluice URL.",
                                          ollama.url())),
              std::string::npos)
        << result.err;
    EXPECT_EQ(count(ollama.requests(), R"("messages":[])"), 1u);  // the direct warm-up got through
}

TEST_F(UserBench, RequestTimeoutIsReportedWithTheFlag) {
    ollama.set_knobs({.first_byte_delay = 2000ms});
    start_sluice();
    UserBenchOptions o = options();
    o.timeout = 300ms;
    const Run result = run(o);
    EXPECT_EQ(result.status, 1);
    EXPECT_NE(result.err.find(fmt::format("sluice bench: a request to Ollama at {} did not finish within 0.3 s: raise "
                                          "--timeout",
                                          ollama.url())),
              std::string::npos)
        << result.err;
}

TEST_F(UserBench, BadUrlIsAUsageError) {
    UserBenchOptions o = options();
    o.ollama_url = "ftp://example";
    const Run result = run(o);
    EXPECT_EQ(result.status, 2);
    EXPECT_NE(result.err.find("sluice bench: --ollama: "), std::string::npos) << result.err;
}

}  // namespace
}  // namespace sluice::test
