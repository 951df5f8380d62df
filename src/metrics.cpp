// metrics: sluice's Prometheus families, fed from finished exchanges and serialized on scrape.
#include "sluice/metrics.hpp"

#include "sluice/ollama_api.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <unordered_map>

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

namespace sluice {
namespace {

// Time to first token: a loaded model answers in tens of milliseconds; a cold load of a large
// model takes tens of seconds.
const prometheus::Histogram::BucketBoundaries time_to_first_token_buckets{
    0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
// Generation speed: CPU-only small models to a fast GPU's small models.
const prometheus::Histogram::BucketBoundaries tokens_per_second_buckets{
    1, 2.5, 5, 10, 20, 30, 40, 50, 60, 80, 100, 150, 200, 300, 500};

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

std::string_view route_label(Handler handler, std::string_view target) {
    switch (handler) {
    case Handler::websocket: return "ws";
    case Handler::ui_asset: return "ui";
    case Handler::healthz: return "healthz";
    case Handler::readyz: return "readyz";
    case Handler::metrics: return "metrics";
    case Handler::login: return "login";
    case Handler::logout: return "logout";
    case Handler::page_api: return "page_api";
    case Handler::proxy: break;
    }
    // Ollama's routes, from its one table (a route with a name in its path, /api/blobs/<digest>
    // or /v1/models/<model>, under the route's own path): a bounded set of labels.
    const auto* route = find_ollama_route(target_path(target));
    return route ? route->path : "other";
}

std::vector<std::string_view> rewrite_kinds(std::string_view rewrite_header) {
    constexpr std::string_view separator = "; ";  // RewriteResult::header_value joins changes so
    const auto is_name = [](std::string_view text) {
        return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        });
    };
    std::vector<std::string_view> kinds;
    while (!rewrite_header.empty()) {
        const auto end = rewrite_header.find(separator);
        const auto change = rewrite_header.substr(0, end);
        rewrite_header = end == std::string_view::npos ? std::string_view{} : rewrite_header.substr(end + separator.size());
        // A piece without a name= in front is the rest of a value that held the separator.
        const auto equals = change.find('=');
        if (equals != std::string_view::npos && is_name(change.substr(0, equals))) kinds.push_back(change.substr(0, equals));
    }
    return kinds;
}

struct Metrics::Families {
    Families();
    void exchange_finished(const ExchangeRecord& record);

    prometheus::Registry registry_;
    prometheus::Family<prometheus::Counter>& requests_;
    prometheus::Gauge& active_streams_;
    prometheus::Family<prometheus::Counter>& request_bytes_;
    prometheus::Family<prometheus::Counter>& response_bytes_;
    prometheus::Counter& upstream_connect_errors_;
    prometheus::Family<prometheus::Counter>& client_cancels_;
    prometheus::Family<prometheus::Counter>& rewrites_;
    prometheus::Family<prometheus::Histogram>& time_to_first_token_;
    prometheus::Family<prometheus::Histogram>& tokens_per_second_;
    prometheus::Family<prometheus::Counter>& backend_requests_;
    prometheus::Family<prometheus::Gauge>& backend_up_;
    prometheus::Family<prometheus::Gauge>& backend_active_;

    // The series an exchange touches, each found through its family once: Family::Add builds and
    // hashes a label map and takes the family's lock, which was most of the cost of counting.
    struct RouteSeries {
        std::unordered_map<unsigned, prometheus::Counter*> requests;  // by status
        prometheus::Counter* request_bytes = nullptr;
        prometheus::Counter* response_bytes = nullptr;
        prometheus::Counter* client_cancels = nullptr;
    };
    struct ModelSeries {
        prometheus::Histogram* time_to_first_token = nullptr;
        prometheus::Histogram* tokens_per_second = nullptr;
    };
    std::mutex series_mutex_;  // guards the maps below (the loops share them)
    std::map<std::string_view, RouteSeries> routes_;  // keys: route_label's fixed strings
    std::map<std::string, prometheus::Counter*, std::less<>> rewrites_by_kind_;
    std::map<std::string, ModelSeries, std::less<>> models_;
    std::map<std::string, prometheus::Counter*, std::less<>> requests_by_backend_;  // labels from the config
    std::shared_ptr<const ModelFacts> installed_;  // null or not `known`: no list to check names against
};

Metrics::Families::Families()
    : requests_(prometheus::BuildCounter()
                    .Name("sluice_requests_total")
                    .Help("Requests answered, by route and HTTP status (a WebSocket chat counts as one on route ws)")
                    .Register(registry_)),
      active_streams_(prometheus::BuildGauge()
                          .Name("sluice_active_streams")
                          .Help("Exchanges with Ollama in flight: proxied requests and WebSocket chats")
                          .Register(registry_)
                          .Add({})),
      request_bytes_(prometheus::BuildCounter()
                         .Name("sluice_request_body_bytes_total")
                         .Help("Request body bytes received from clients, by route")
                         .Register(registry_)),
      response_bytes_(prometheus::BuildCounter()
                          .Name("sluice_response_body_bytes_total")
                          .Help("Response body bytes sent to clients (as framed on the wire), by route")
                          .Register(registry_)),
      upstream_connect_errors_(prometheus::BuildCounter()
                                   .Name("sluice_upstream_connect_errors_total")
                                   .Help("Connections to Ollama that could not be made (refused, unreachable, timed out)")
                                   .Register(registry_)
                                   .Add({})),
      client_cancels_(prometheus::BuildCounter()
                          .Name("sluice_client_cancels_total")
                          .Help("Exchanges the client ended before their end (closed, or stopped reading), by route; "
                                "Ollama's side is closed so it stops generating")
                          .Register(registry_)),
      rewrites_(prometheus::BuildCounter()
                    .Name("sluice_rewrites_total")
                    .Help("Changes the request rewriter made, by kind (model, keep_alive, think, an option name)")
                    .Register(registry_)),
      time_to_first_token_(prometheus::BuildHistogram()
                               .Name("sluice_time_to_first_token_seconds")
                               .Help("From a streamed generation's request header to its first response byte, by "
                                     "the model Ollama's final line names")
                               .Register(registry_)),
      tokens_per_second_(prometheus::BuildHistogram()
                             .Name("sluice_generation_tokens_per_second")
                             .Help("eval_count / eval_duration of Ollama's final line, by the model it names")
                             .Register(registry_)),
      backend_requests_(prometheus::BuildCounter()
                            .Name("sluice_backend_requests_total")
                            .Help("Exchanges a backend of the fleet (upstreams:) answered, by backend")
                            .Register(registry_)),
      backend_up_(prometheus::BuildGauge()
                      .Name("sluice_backend_up")
                      .Help("1 while a backend of the fleet answers its probe (and takes requests), else 0")
                      .Register(registry_)),
      backend_active_(prometheus::BuildGauge()
                          .Name("sluice_backend_active_generations")
                          .Help("Generations sluice has in flight on a backend of the fleet")
                          .Register(registry_)) {
    prometheus::BuildGauge()
        .Name("sluice_build_info")
        .Help("The running sluice's version, as a label; always 1")
        .Register(registry_)
        .Add({{"version", SLUICE_VERSION}})
        .Set(1);
}

Metrics::Metrics() : families_(std::make_unique<Families>()) {}
Metrics::~Metrics() = default;

ActiveStream Metrics::stream_started() {
    families_->active_streams_.Increment();
    return ActiveStream(*this);
}

void Metrics::stream_ended() { families_->active_streams_.Decrement(); }

void ActiveStream::release() {
    if (metrics_) std::exchange(metrics_, nullptr)->stream_ended();
}

void Metrics::exchange_finished(const ExchangeRecord& record) { families_->exchange_finished(record); }

void Metrics::Families::exchange_finished(const ExchangeRecord& record) {
    const auto route = route_label(record.handler, record.target);
    std::lock_guard lock(series_mutex_);
    auto& series = routes_[route];
    auto*& requests = series.requests[record.status];
    if (!requests) requests = &requests_.Add({{"route", std::string(route)}, {"status", std::to_string(record.status)}});
    requests->Increment();
    if (!series.request_bytes) {
        series.request_bytes = &request_bytes_.Add({{"route", std::string(route)}});
        series.response_bytes = &response_bytes_.Add({{"route", std::string(route)}});
    }
    series.request_bytes->Increment(static_cast<double>(record.bytes_in));
    series.response_bytes->Increment(static_cast<double>(record.bytes_out));
    if (record.upstream_unreachable) upstream_connect_errors_.Increment();
    if (!record.backend.empty()) {
        auto found = requests_by_backend_.find(record.backend);
        if (found == requests_by_backend_.end()) {
            found = requests_by_backend_
                        .emplace(std::string(record.backend), &backend_requests_.Add({{"backend", std::string(record.backend)}}))
                        .first;
        }
        found->second->Increment();
    }
    if (record.client_gone) {
        if (!series.client_cancels) series.client_cancels = &client_cancels_.Add({{"route", std::string(route)}});
        series.client_cancels->Increment();
    }
    if (!record.rewrites.empty()) {
        for (const auto kind : rewrite_kinds(record.rewrites)) {
            auto found = rewrites_by_kind_.find(kind);
            if (found == rewrites_by_kind_.end()) {
                found = rewrites_by_kind_.emplace(kind, &rewrites_.Add({{"kind", std::string(kind)}})).first;
            }
            found->second->Increment();
        }
    }
    if (!record.stats) return;
    // A final line that began before the kept tail (a long /api/generate context) lost its model.
    std::string_view model = record.stats->model.empty() ? std::string_view("unknown") : record.stats->model;
    // Ollama's line echoes the client's spelling of the name: label the installed model it
    // names, so neither spellings nor names Ollama lacks add series.
    if (installed_ && installed_->known && model != "unknown") {
        const auto* installed = installed_->find(model);
        model = installed ? std::string_view(installed->name) : std::string_view("other");
    }
    auto found = models_.find(model);
    if (found == models_.end()) {
        if (models_.size() >= max_model_series) model = "other";
        found = models_.try_emplace(std::string(model)).first;
    }
    auto& by_model = found->second;
    if (record.streamed && record.first_byte) {
        if (!by_model.time_to_first_token) {
            by_model.time_to_first_token =
                &time_to_first_token_.Add({{"model", std::string(model)}}, time_to_first_token_buckets);
        }
        by_model.time_to_first_token->Observe(seconds(*record.first_byte - record.start));
    }
    if (const auto rate = record.stats->tokens_per_second()) {
        if (!by_model.tokens_per_second) {
            by_model.tokens_per_second = &tokens_per_second_.Add({{"model", std::string(model)}}, tokens_per_second_buckets);
        }
        by_model.tokens_per_second->Observe(*rate);
    }
}

void Metrics::installed_models(std::shared_ptr<const ModelFacts> facts) {
    std::lock_guard lock(families_->series_mutex_);
    families_->installed_ = std::move(facts);
}

std::string Metrics::scrape(std::span<const BackendReading> backends) const {
    for (const auto& reading : backends) {  // Add finds the series after the first scrape
        families_->backend_up_.Add({{"backend", std::string(reading.backend)}}).Set(reading.up ? 1 : 0);
        families_->backend_active_.Add({{"backend", std::string(reading.backend)}}).Set(reading.active_generations);
    }
    return prometheus::TextSerializer().Serialize(families_->registry_.Collect());
}

}  // namespace sluice
