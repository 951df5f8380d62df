// Unit tests: the metrics' labels (a fixed set of routes, rewrite kinds) and what one finished
// exchange adds to the exposition.
#include "sluice/metrics.hpp"

#include <fmt/format.h>

#include <gtest/gtest.h>

namespace sluice {
namespace {

struct LabelCase {
    Handler handler;
    std::string_view target;
    std::string_view label;
};

void PrintTo(const LabelCase& c, std::ostream* out) { *out << c.target << " -> " << c.label; }

class RouteLabel : public testing::TestWithParam<LabelCase> {};

TEST_P(RouteLabel, IsOneOfAFixedSet) {
    EXPECT_EQ(route_label(GetParam().handler, GetParam().target), GetParam().label);
}

INSTANTIATE_TEST_SUITE_P(
    Metrics, RouteLabel,
    testing::Values(
        LabelCase{Handler::proxy, "/api/chat", "/api/chat"},
        LabelCase{Handler::proxy, "/api/generate?stream=false", "/api/generate"},
        LabelCase{Handler::proxy, "/api/embed", "/api/embed"},
        LabelCase{Handler::proxy, "/api/embeddings", "/api/embeddings"},
        LabelCase{Handler::proxy, "/api/tags", "/api/tags"},
        LabelCase{Handler::proxy, "/api/show", "/api/show"},
        LabelCase{Handler::proxy, "/api/ps", "/api/ps"},
        LabelCase{Handler::proxy, "/api/pull", "/api/pull"},
        LabelCase{Handler::proxy, "/api/push", "/api/push"},
        LabelCase{Handler::proxy, "/api/create", "/api/create"},
        LabelCase{Handler::proxy, "/api/copy", "/api/copy"},
        LabelCase{Handler::proxy, "/api/delete", "/api/delete"},
        LabelCase{Handler::proxy, "/api/version", "/api/version"},
        LabelCase{Handler::proxy, "/v1/chat/completions", "/v1/chat/completions"},
        LabelCase{Handler::proxy, "/v1/completions", "/v1/completions"},
        LabelCase{Handler::proxy, "/v1/embeddings", "/v1/embeddings"},
        LabelCase{Handler::proxy, "/v1/models", "/v1/models"},
        LabelCase{Handler::proxy, "/", "/"},
        LabelCase{Handler::proxy, "/?x=1", "/"},
        // Paths that name something are one label, whatever they name.
        LabelCase{Handler::proxy, "/api/blobs/sha256:29fdb92e57cf0827ded04ae6461b5931d01fa595843f55d36f5b275a52087dd2",
                  "/api/blobs"},
        LabelCase{Handler::proxy, "/v1/models/qwen3:14b", "/v1/models"},
        // Anything else is "other": a client cannot add series by inventing paths.
        LabelCase{Handler::proxy, "/api/nope", "other"},
        LabelCase{Handler::proxy, "/api/chat/", "other"},
        LabelCase{Handler::proxy, "/api/blobsx", "other"},
        LabelCase{Handler::proxy, "/api/blobs", "other"},  // Ollama's route is /api/blobs/<digest> only
        // Every route in Ollama's table (ollama_api.hpp) is its own label.
        LabelCase{Handler::proxy, "/api/status", "/api/status"},
        LabelCase{Handler::proxy, "/v1/responses", "/v1/responses"},
        LabelCase{Handler::proxy, "/api/chatter", "other"},
        LabelCase{Handler::proxy, "/favicon.ico", "other"},
        LabelCase{Handler::proxy, "", "other"},
        // sluice's own endpoints by what they are, wherever they are configured.
        LabelCase{Handler::websocket, "/_sluice/ws", "ws"},
        LabelCase{Handler::ui_asset, "/", "ui"},
        LabelCase{Handler::ui_asset, "/_sluice/assets/index-abc.js", "ui"},
        LabelCase{Handler::healthz, "/live", "healthz"},
        LabelCase{Handler::readyz, "/readyz", "readyz"},
        LabelCase{Handler::metrics, "/metrics?x", "metrics"},
        LabelCase{Handler::login, "/_sluice/login", "login"},
        LabelCase{Handler::logout, "/_sluice/logout", "logout"},
        LabelCase{Handler::page_api, "/_sluice/api/me", "page_api"}));

TEST(RewriteKinds, AreTheKeysOfTheHeaderValue) {
    using Kinds = std::vector<std::string_view>;
    EXPECT_EQ(rewrite_kinds(""), Kinds{});
    EXPECT_EQ(rewrite_kinds("model=qwen3:14b-q8_0"), Kinds{"model"});
    EXPECT_EQ(rewrite_kinds("model=qwen3:14b-q8_0; num_ctx=40960; num_thread=8; keep_alive=30m; think=on"),
              (Kinds{"model", "num_ctx", "num_thread", "keep_alive", "think"}));
    // A value holding the separator does not make up a kind.
    EXPECT_EQ(rewrite_kinds("stop=[\"a; b\"]; think=off"), (Kinds{"stop", "think"}));
    EXPECT_EQ(rewrite_kinds("garbage"), Kinds{});
}

// What one finished exchange adds, read back from the text format.
TEST(MetricsExposition, CountsOneFinishedChat) {
    Metrics metrics;
    ExchangeRecord record;
    record.method = "POST";
    record.target = "/api/chat";
    record.status = 200;
    record.bytes_in = 21;
    record.bytes_out = 900;
    record.start = Clock::now();
    record.first_byte = record.start + std::chrono::milliseconds(300);
    record.streamed = true;
    record.rewrites = "model=qwen3:14b-q8_0; num_ctx=8192";
    record.stats = GenerationStats{};
    record.stats->model = "qwen3:14b-q8_0";
    record.stats->eval_count = 80;
    record.stats->eval_duration_ns = 2'000'000'000;
    {
        const auto in_flight = metrics.stream_started();
        EXPECT_NE(metrics.scrape().find("\nsluice_active_streams 1\n"), std::string::npos);
    }
    metrics.exchange_finished(record);
    const auto text = metrics.scrape();
    for (const std::string_view line : {
             "\nsluice_active_streams 0\n",
             "\nsluice_requests_total{route=\"/api/chat\",status=\"200\"} 1\n",
             "\nsluice_request_body_bytes_total{route=\"/api/chat\"} 21\n",
             "\nsluice_response_body_bytes_total{route=\"/api/chat\"} 900\n",
             "\nsluice_upstream_connect_errors_total 0\n",
             "\nsluice_rewrites_total{kind=\"model\"} 1\n",
             "\nsluice_rewrites_total{kind=\"num_ctx\"} 1\n",
             "\nsluice_time_to_first_token_seconds_count{model=\"qwen3:14b-q8_0\"} 1\n",
             "\nsluice_time_to_first_token_seconds_bucket{model=\"qwen3:14b-q8_0\",le=\"0.25\"} 0\n",
             "\nsluice_time_to_first_token_seconds_bucket{model=\"qwen3:14b-q8_0\",le=\"0.5\"} 1\n",
             "\nsluice_generation_tokens_per_second_sum{model=\"qwen3:14b-q8_0\"} 40\n",
             "\nsluice_build_info{version=\"",
         }) {
        EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line.substr(1) << "\nin:\n" << text;
    }
    EXPECT_EQ(text.find("sluice_client_cancels_total{"), std::string::npos) << text;
}

// The samples of one histogram's _count, one line per model label.
std::size_t count_series(const std::string& text, std::string_view histogram) {
    std::size_t series = 0;
    const auto prefix = fmt::format("\n{}_count{{model=", histogram);
    for (auto at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1)) ++series;
    return series;
}

ExchangeRecord finished_generation(std::string model) {
    ExchangeRecord record;
    record.target = "/api/chat";
    record.status = 200;
    record.start = Clock::now();
    record.first_byte = record.start + std::chrono::milliseconds(100);
    record.streamed = true;
    record.stats = GenerationStats{};
    record.stats->model = std::move(model);
    record.stats->eval_count = 10;
    record.stats->eval_duration_ns = 1'000'000'000;
    return record;
}

TEST(MetricsExposition, ModelLabelIsAnInstalledModelOrOther) {
    Metrics metrics;
    auto facts = std::make_shared<ModelFacts>();
    facts->known = true;
    facts->models.push_back({"qwen3:14b", std::nullopt, std::nullopt});
    facts->models.push_back({"llama3.2:latest", std::nullopt, std::nullopt});
    metrics.installed_models(facts);
    for (int i = 0; i < 1000; ++i) metrics.exchange_finished(finished_generation(fmt::format("bogus-{}:7b", i)));
    metrics.exchange_finished(finished_generation("QWEN3:14b"));  // Ollama echoes the client's spelling
    metrics.exchange_finished(finished_generation("llama3.2"));
    const auto text = metrics.scrape();
    EXPECT_EQ(count_series(text, "sluice_time_to_first_token_seconds"), 3u) << text;
    EXPECT_EQ(count_series(text, "sluice_generation_tokens_per_second"), 3u) << text;
    EXPECT_NE(text.find("\nsluice_time_to_first_token_seconds_count{model=\"other\"} 1000\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nsluice_time_to_first_token_seconds_count{model=\"qwen3:14b\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nsluice_generation_tokens_per_second_count{model=\"llama3.2:latest\"} 1\n"), std::string::npos)
        << text;
    EXPECT_EQ(text.find("bogus"), std::string::npos);
}

TEST(MetricsExposition, ModelSeriesAreCappedWhileTheCatalogHasNoList) {
    Metrics metrics;  // no installed_models yet: Ollama has not answered, or no rules run the catalog
    for (int i = 0; i < 1000; ++i) metrics.exchange_finished(finished_generation(fmt::format("name-{}", i)));
    const auto text = metrics.scrape();
    EXPECT_EQ(count_series(text, "sluice_time_to_first_token_seconds"), Metrics::max_model_series + 1) << text;
    EXPECT_NE(text.find(fmt::format("\nsluice_time_to_first_token_seconds_count{{model=\"other\"}} {}\n",
                                    1000 - Metrics::max_model_series)),
              std::string::npos)
        << text;
}

TEST(MetricsExposition, NoTimeToFirstTokenForAnswersThatWereNotStreamed) {
    Metrics metrics;
    ExchangeRecord record;
    record.target = "/api/generate";
    record.status = 200;
    record.start = Clock::now();
    record.first_byte = record.start + std::chrono::seconds(4);  // the whole answer at once
    record.stats = GenerationStats{};
    record.stats->eval_count = 10;
    record.stats->eval_duration_ns = 1'000'000'000;
    metrics.exchange_finished(record);
    const auto text = metrics.scrape();
    EXPECT_EQ(text.find("sluice_time_to_first_token_seconds_count{"), std::string::npos) << text;
    EXPECT_NE(text.find("\nsluice_generation_tokens_per_second_count{model=\"unknown\"} 1\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace sluice
