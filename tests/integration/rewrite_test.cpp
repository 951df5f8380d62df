// Integration tests of the request rewriter: rules written as a user writes sluice.yaml, sluice's
// Server between a test client and the fake Ollama, asserting the body Ollama received, the
// X-Sluice-Rewrite header the client saw, and that the streamed reply arrived intact.
#include "fixtures.hpp"
#include "sluice_under_test.hpp"
#include "ws_client.hpp"

#include "sluice/kv_budget.hpp"
#include "sluice/model_catalog.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <boost/asio.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <thread>

namespace sluice::test {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// sluice in front of the fake Ollama, configured from YAML text.
class RewriteProxy : public SluiceUnderTest {
protected:
    // `yaml` is a sluice.yaml; the upstream is the fake Ollama unless `upstream` names another.
    void start(std::string_view yaml, std::string_view upstream = {}) { start_yaml(yaml, upstream); }
    Response post(std::string_view path, std::string_view body) { return request("POST", path, body); }

    // How many requests for `path` the fake Ollama received.
    std::size_t received(std::string_view path) const {
        const auto requests = ollama.requests();
        return static_cast<std::size_t>(std::count_if(requests.begin(), requests.end(),
                                                      [&](const RecordedRequest& r) { return r.target == path; }));
    }
};

std::vector<std::string> lines_of(std::string_view body) {
    std::vector<std::string> lines;
    while (!body.empty()) {
        const auto end = body.find('\n');
        lines.emplace_back(body.substr(0, end));
        if (end == std::string_view::npos) break;
        body.remove_prefix(end + 1);
    }
    return lines;
}

// A chat stream as Ollama sends it: `tokens` content lines and a final done line, each a JSON
// object naming `model`.
void expect_intact_chat_stream(const Response& response, std::string_view model, int tokens) {
    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(response.header("Content-Type"), "application/x-ndjson");
    EXPECT_TRUE(response.chunked);
    const auto lines = lines_of(response.body);
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(tokens + 1)) << response.body;
    simdjson::dom::parser parser;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        simdjson::dom::element line;
        ASSERT_EQ(parser.parse(lines[i]).get(line), simdjson::SUCCESS) << lines[i];
        EXPECT_EQ(std::string_view(line["model"]), model);
        EXPECT_EQ(bool(line["done"]), i + 1 == lines.size()) << lines[i];
    }
}

constexpr std::string_view chat_hello = R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello there"}]})";

// --- model names ------------------------------------------------------------------------------

TEST_F(RewriteProxy, PreferSendsTheInstalledVariantAndTheStreamComesBackIntact) {
    ollama.set_knobs({.token_interval = 1ms, .tokens = 5});
    start(R"(
rewrite:
  models:
    - match: "qwen3:14b*"
      prefer: ["-fp8", "-q8_0"]
)");
    const auto response = post("/api/chat", chat_hello);
    EXPECT_EQ(ollama.last_request().body,
              R"({"model":"qwen3:14b-q8_0","messages":[{"role":"user","content":"Hello there"}]})");
    EXPECT_EQ(response.header("X-Sluice-Rewrite"), "model=qwen3:14b-q8_0");
    expect_intact_chat_stream(response, "qwen3:14b-q8_0", 5);
}

TEST_F(RewriteProxy, PreferWithNoVariantInstalledLeavesTheName) {
    start(R"(
rewrite:
  models:
    - match: "qwen3:14b*"
      prefer: ["-fp8"]
)");
    const auto response = post("/api/chat", chat_hello);
    EXPECT_EQ(ollama.last_request().body, chat_hello);
    EXPECT_FALSE(response.has_header("X-Sluice-Rewrite"));
    expect_intact_chat_stream(response, "qwen3:14b", 8);
}

TEST_F(RewriteProxy, AliasRenamesExactly) {
    start(R"(
rewrite:
  models:
    - match: "qwen3*"
      alias: {qwen3: "qwen3:14b"}
)");
    const auto renamed = post("/api/generate", R"({"model":"qwen3","prompt":"Hi"})");
    EXPECT_EQ(ollama.last_request().body, R"({"model":"qwen3:14b","prompt":"Hi"})");
    EXPECT_EQ(renamed.header("X-Sluice-Rewrite"), "model=qwen3:14b");
    EXPECT_EQ(renamed.status, 200u);

    const auto other = post("/api/generate", R"({"model":"qwen3:8b","prompt":"Hi"})");
    EXPECT_EQ(ollama.last_request().body, R"({"model":"qwen3:8b","prompt":"Hi"})");
    EXPECT_FALSE(other.has_header("X-Sluice-Rewrite"));
}

// --- options and keep_alive -------------------------------------------------------------------

TEST_F(RewriteProxy, OptionDefaultsAreAddedAndTheClientsOwnValuesKept) {
    start(R"(
rewrite:
  models:
    - match: "*"
      options:
        temperature: 0.6
        num_thread: 8
)");
    const auto response =
        post("/api/chat", R"({"model":"qwen3:14b","messages":[],"options":{"temperature":1.2}})");
    EXPECT_EQ(ollama.last_request().body, R"({"model":"qwen3:14b","messages":[],"options":{"temperature":1.2,"num_thread":8}})");
    EXPECT_EQ(response.header("X-Sluice-Rewrite"), "num_thread=8");

    const auto without_options = post("/api/chat", chat_hello);
    EXPECT_EQ(ollama.last_request().body,
              R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello there"}],)"
              R"("options":{"temperature":0.6,"num_thread":8}})");
    EXPECT_EQ(without_options.header("X-Sluice-Rewrite"), "temperature=0.6; num_thread=8");
    expect_intact_chat_stream(without_options, "qwen3:14b", 8);
}

TEST_F(RewriteProxy, ForcedOptionOverridesTheClient) {
    start(R"(
rewrite:
  models:
    - match: "*"
      options: {num_ctx: 8192}
      force: [num_ctx]
)");
    const auto response = post("/api/generate", R"({"model":"qwen3:14b","prompt":"Hi","options":{"num_ctx":2048,"seed":7}})");
    EXPECT_EQ(ollama.last_request().body, R"({"model":"qwen3:14b","prompt":"Hi","options":{"num_ctx":8192,"seed":7}})");
    EXPECT_EQ(response.header("X-Sluice-Rewrite"), "num_ctx=8192");
}

// The fixture's qwen3:14b-q8_0: 40 layers, 8 KV heads, key and value length 128, so
// 2 x 40 x 8 x 128 x 2 bytes = 160 KiB of f16 KV cache per token; 15,718,818,517 bytes of weights
// (tags.json); context_length 40960 (show-qwen3-14b.json).
constexpr std::string_view num_ctx_auto_rules = R"(
rewrite:
  gpu_memory: {}
  kv_cache_type: f16
  models:
    - match: "qwen3:14b*"
      prefer: ["-q8_0"]
      options: {{num_ctx: auto}}
)";

TEST_F(RewriteProxy, NumCtxAutoOn24GiBIsTheModelsWholeContextEveryTime) {
    // 24 GiB - 15.7 GB of weights - 1 GiB reserve = 8,977,243,435 bytes: room for 54,792 tokens,
    // more than the model's 40960, so the cap applies.
    start(fmt::format(num_ctx_auto_rules, "24GiB"));
    for (const std::string_view text : {"Hello there", "What is 17 * 23?"}) {
        const auto response = post("/api/chat", fmt::format(R"({{"model":"qwen3:14b","messages":[{{"role":"user","content":"{}"}}]}})", text));
        EXPECT_EQ(ollama.last_request().body,
                  fmt::format(R"({{"model":"qwen3:14b-q8_0","messages":[{{"role":"user","content":"{}"}}],)"
                              R"("options":{{"num_ctx":40960}}}})", text));
        EXPECT_EQ(response.header("X-Sluice-Rewrite"), "model=qwen3:14b-q8_0; num_ctx=40960");
    }
}

TEST_F(RewriteProxy, NumCtxAutoOn20GiBIsTheLargestMultipleOf2048ThatFits) {
    // 20 GiB - 15,718,818,517 - 1 GiB = 4,682,276,139 bytes / 163,840 per token = 28,578 tokens:
    // 13 x 2048 = 26624 fits, 14 x 2048 = 28672 does not.
    start(fmt::format(num_ctx_auto_rules, "20GiB"));
    const auto shape = parse_model_shape(fixture("show-qwen3-14b.json"), 15'718'818'517);
    ASSERT_TRUE(shape);
    ASSERT_EQ(choose_num_ctx(*shape, 20ull << 30, KvCacheType::f16).num_ctx, 26624u);  // the unit arithmetic agrees
    for (int i = 0; i < 2; ++i) {
        const auto response = post("/api/generate", R"({"model":"qwen3:14b","prompt":"Hi","options":{}})");
        EXPECT_EQ(ollama.last_request().body, R"({"model":"qwen3:14b-q8_0","prompt":"Hi","options":{"num_ctx":26624}})");
        EXPECT_EQ(response.header("X-Sluice-Rewrite"), "model=qwen3:14b-q8_0; num_ctx=26624");
    }
}

TEST_F(RewriteProxy, KeepAliveDefaultUnlessTheClientSetOne) {
    start(R"(
rewrite:
  models:
    - match: "qwen3:14b"
      keep_alive: 30m
)");
    const auto response = post("/api/generate", R"({"model":"qwen3:14b","prompt":"Hi"})");
    EXPECT_EQ(ollama.last_request().body, R"({"model":"qwen3:14b","prompt":"Hi","keep_alive":"30m"})");
    EXPECT_EQ(response.header("X-Sluice-Rewrite"), "keep_alive=30m");

    const auto own = post("/api/generate", R"({"model":"qwen3:14b","prompt":"Hi","keep_alive":"5m"})");
    EXPECT_EQ(ollama.last_request().body, R"({"model":"qwen3:14b","prompt":"Hi","keep_alive":"5m"})");
    EXPECT_FALSE(own.has_header("X-Sluice-Rewrite"));
}

// --- thinking ---------------------------------------------------------------------------------

TEST_F(RewriteProxy, ThinkOffViaTheThinkField) {
    start(R"(
rewrite:
  models:
    - match: "qwen3*"
      think: off
)");
    const auto response = post("/api/chat", chat_hello);
    EXPECT_EQ(ollama.last_request().body,
              R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello there"}],"think":false})");
    EXPECT_EQ(response.header("X-Sluice-Rewrite"), "think=off");
    expect_intact_chat_stream(response, "qwen3:14b", 8);
}

TEST_F(RewriteProxy, ThinkViaSwitchAppendsTheSoftSwitchToTheLastUserMessage) {
    start(R"(
rewrite:
  models:
    - match: "qwen3*"
      think: auto
      think_via: switch
)");
    const auto chat = post("/api/chat", chat_hello);
    EXPECT_EQ(ollama.last_request().body,
              R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hello there /no_think"}]})");
    EXPECT_EQ(chat.header("X-Sluice-Rewrite"), "think=off");

    const auto math = post("/api/chat", R"({"model":"qwen3:14b","messages":[{"role":"user","content":"What is 17 * 23?"}]})");
    EXPECT_EQ(ollama.last_request().body,
              R"({"model":"qwen3:14b","messages":[{"role":"user","content":"What is 17 * 23? /think"}]})");
    EXPECT_EQ(math.header("X-Sluice-Rewrite"), "think=on");
}

// --- other routes -----------------------------------------------------------------------------

TEST_F(RewriteProxy, OpenAiChatCompletionsGetsTheModelRewritten) {
    ollama.set_knobs({.token_interval = 1ms, .tokens = 4});
    start(R"(
rewrite:
  models:
    - match: "qwen3:14b*"
      prefer: ["-q8_0"]
)");
    const auto response =
        post("/v1/chat/completions", R"({"model":"qwen3:14b","stream":true,"messages":[{"role":"user","content":"Hi"}]})");
    EXPECT_EQ(ollama.last_request().body,
              R"({"model":"qwen3:14b-q8_0","stream":true,"messages":[{"role":"user","content":"Hi"}]})");
    EXPECT_EQ(response.header("X-Sluice-Rewrite"), "model=qwen3:14b-q8_0");
    EXPECT_EQ(response.status, 200u);
    EXPECT_EQ(response.header("Content-Type"), "text/event-stream");
    EXPECT_TRUE(response.body.starts_with("data: {"));
    EXPECT_NE(response.body.find(R"("model":"qwen3:14b-q8_0")"), std::string::npos);
    EXPECT_TRUE(response.body.ends_with("data: [DONE]\n\n"));
}

TEST_F(RewriteProxy, EmbedGetsNumCtxAndKeepAlive) {
    start(R"(
rewrite:
  models:
    - match: "nomic-embed-text*"
      options: {num_ctx: 2048}
      keep_alive: 1h
)");
    const auto response = post("/api/embed", R"({"model":"nomic-embed-text","input":["a","b"]})");
    EXPECT_EQ(ollama.last_request().body,
              R"({"model":"nomic-embed-text","input":["a","b"],"options":{"num_ctx":2048},"keep_alive":"1h"})");
    EXPECT_EQ(response.header("X-Sluice-Rewrite"), "num_ctx=2048; keep_alive=1h");
    EXPECT_EQ(response.status, 200u);
    EXPECT_NE(response.body.find(R"("embeddings":[[0.1,0.2],[0.1,0.2]])"), std::string::npos) << response.body;
}

// --- what is left alone -----------------------------------------------------------------------

constexpr std::string_view every_rule_kind = R"(
rewrite:
  gpu_memory: 24GiB
  models:
    - match: "qwen3*"
      prefer: ["-q8_0"]
      options: {num_ctx: auto, temperature: 0.6}
      keep_alive: 30m
      think: off
)";

TEST_F(RewriteProxy, BodyThatIsNotJsonIsForwardedByteIdentical) {
    start(every_rule_kind);
    constexpr std::string_view broken = "{\"model\":\"qwen3:14b\",\"messages\":[ not json";
    const auto response = post("/api/chat", broken);
    EXPECT_EQ(ollama.last_request().body, broken);
    EXPECT_FALSE(response.has_header("X-Sluice-Rewrite"));
    EXPECT_EQ(response.status, 400u);  // Ollama's own answer
}

TEST_F(RewriteProxy, NoMatchingRuleForwardsTheBodyByteIdenticalWithoutHeader) {
    start(every_rule_kind);
    constexpr std::string_view body =
        "{ \"model\" : \"llama3.2:3b\" ,\n \"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9\"}], \"n\":1.0E+2 }";
    const auto response = post("/api/chat", body);
    EXPECT_EQ(ollama.last_request().body, body);
    EXPECT_FALSE(response.has_header("X-Sluice-Rewrite"));
    EXPECT_EQ(response.status, 200u);
}

// A model removed behind sluice's back: Ollama's 404 makes the catalog look again (at most once
// per ModelCatalog::min_refresh_gap), for a chat from the page as for a proxied one.
TEST_F(RewriteProxy, AModelNotFoundInAChatFromThePageMakesTheCatalogLookAgain) {
    start(every_rule_kind);
    std::this_thread::sleep_for(ModelCatalog::min_refresh_gap + std::chrono::milliseconds(200));
    ASSERT_EQ(received("/api/tags"), 1u);
    WsClient client(port());
    client.chat("m", "missing-model");
    const auto frames = client.read_until_end_of("m");
    ASSERT_FALSE(frames.empty());
    EXPECT_EQ(frames.back().raw, R"({"id":"m","done":true,"status":404})");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (received("/api/tags") < 2 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(received("/api/tags"), 2u);
}

TEST_F(RewriteProxy, CatalogAsksOllamaOnceNotPerRequest) {
    start(every_rule_kind);
    for (int i = 0; i < 5; ++i) {
        const auto response = post("/api/chat", chat_hello);
        EXPECT_EQ(response.header("X-Sluice-Rewrite"), "model=qwen3:14b-q8_0; num_ctx=40960; temperature=0.6; keep_alive=30m; think=off");
    }
    EXPECT_EQ(received("/api/tags"), 1u);
    // /api/show once for each installed model a rule names: qwen3:14b and qwen3:14b-q8_0, not
    // nomic-embed-text.
    std::vector<std::string> shown;
    for (const auto& request : ollama.requests()) {
        if (request.target == "/api/show") shown.push_back(request.body);
    }
    EXPECT_EQ(shown, (std::vector<std::string>{R"({"model":"qwen3:14b"})", R"({"model":"qwen3:14b-q8_0"})"}));
    EXPECT_EQ(received("/api/chat"), 5u);
}

// An Ollama that starts after sluice: its port refuses connections until open(), then each
// connection is relayed byte for byte to the fake Ollama.
class LateOllama {
public:
    explicit LateOllama(std::uint16_t target_port) : target_port_(target_port) {
        acceptor_.open(tcp::v4());
        acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});  // bound, not listening: refused
    }
    ~LateOllama() {
        io_.stop();
        if (thread_.joinable()) thread_.join();
    }
    LateOllama(const LateOllama&) = delete;
    LateOllama& operator=(const LateOllama&) = delete;

    std::string url() const { return fmt::format("http://127.0.0.1:{}", acceptor_.local_endpoint().port()); }

    void open() {
        acceptor_.listen();
        asio::co_spawn(io_, accept(), asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }

private:
    asio::awaitable<void> accept() {
        for (;;) {
            auto client = std::make_shared<tcp::socket>(co_await acceptor_.async_accept(asio::use_awaitable));
            auto upstream = std::make_shared<tcp::socket>(io_);
            co_await upstream->async_connect({asio::ip::make_address("127.0.0.1"), target_port_}, asio::use_awaitable);
            asio::co_spawn(io_, relay(client, upstream), asio::detached);
            asio::co_spawn(io_, relay(upstream, client), asio::detached);
        }
    }

    static asio::awaitable<void> relay(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
        std::array<char, 16 * 1024> buffer;
        boost::system::error_code ec;
        for (;;) {
            const auto size = co_await from->async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) break;
            co_await asio::async_write(*to, asio::buffer(buffer.data(), size), asio::redirect_error(asio::use_awaitable, ec));
            if (ec) break;
        }
        to->shutdown(tcp::socket::shutdown_send, ec);
    }

    std::uint16_t target_port_;
    asio::io_context io_;
    tcp::acceptor acceptor_{io_};
    std::thread thread_;
};

TEST_F(RewriteProxy, OllamaDownAtStartThenUpRequestsPassUnchanged) {
    LateOllama late(ollama.port());
    start(R"(
rewrite:
  gpu_memory: 24GiB
  models:
    - match: "qwen3:14b*"
      prefer: ["-q8_0"]
      options: {num_ctx: auto}
)",
          late.url());
    // The catalog's first look finds nobody; the request waits for that, not longer, and gets
    // sluice's 502.
    const auto down = post("/api/chat", chat_hello);
    EXPECT_EQ(down.status, 502u);
    EXPECT_TRUE(ollama.requests().empty());

    // Ollama comes up. Until the catalog's next refresh the installed models are unknown, so
    // the rules that need them change nothing: the body goes up byte-identical, unmarked.
    late.open();
    const auto up = post("/api/chat", chat_hello);
    EXPECT_EQ(ollama.last_request().body, chat_hello);
    EXPECT_FALSE(up.has_header("X-Sluice-Rewrite"));
    expect_intact_chat_stream(up, "qwen3:14b", 8);
    EXPECT_EQ(received("/api/tags"), 0u);
}

}  // namespace
}  // namespace sluice::test
