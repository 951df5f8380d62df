// metrics: what happened, for Prometheus. Fed once per finished exchange from the record the
// access log is written from (never per relayed line), served in the text format by sluice's
// own HTTP server at metrics.path.
//
// Every label has a bounded set of values, so no client can grow the series: route is one of a
// fixed list (route_label), status an HTTP status code, kind a rewrite key (the config's rules
// bound them), model an installed model's name (from the model catalog) or "other" (the name
// Ollama's final line gives while the catalog has no list), at most max_model_series of them.
#pragma once

#include "sluice/access_log.hpp"
#include "sluice/rewrite.hpp"
#include "sluice/router.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice {

// Pure: the `route` label of a request, from what the router made of it and its target.
// Ollama's routes are named by their path ("/api/chat"; "/api/blobs" for every blob,
// "/v1/models" for one model too), sluice's own by what they are ("ws", "ui", "healthz",
// "readyz", "metrics"); any other path is "other".
std::string_view route_label(Handler handler, std::string_view target);

// Pure: the kinds of change in an X-Sluice-Rewrite value ("model=a; num_ctx=8192" -> model,
// num_ctx), in order.
std::vector<std::string_view> rewrite_kinds(std::string_view rewrite_header);

// One exchange with Ollama in flight (sluice_active_streams): counted while this lives.
class ActiveStream {
public:
    ActiveStream() = default;
    explicit ActiveStream(prometheus::Gauge& gauge) : gauge_(&gauge) { gauge_->Increment(); }
    ActiveStream(ActiveStream&& other) noexcept : gauge_(std::exchange(other.gauge_, nullptr)) {}
    ActiveStream& operator=(ActiveStream&& other) noexcept {
        if (this != &other) {
            release();
            gauge_ = std::exchange(other.gauge_, nullptr);
        }
        return *this;
    }
    ActiveStream(const ActiveStream&) = delete;
    ActiveStream& operator=(const ActiveStream&) = delete;
    ~ActiveStream() { release(); }

    void release() {
        if (gauge_) std::exchange(gauge_, nullptr)->Decrement();
    }

private:
    prometheus::Gauge* gauge_ = nullptr;
};

// One per server, shared by every event loop: prometheus-cpp's metrics are atomic (histograms
// take a short lock), and each is touched a few times per exchange, never per line.
class Metrics {
public:
    static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

    Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // A proxied exchange or a WebSocket chat starts; it stops counting when the handle goes.
    ActiveStream stream_started() { return ActiveStream(active_streams_); }
    // Everything else is counted from the finished exchange's record.
    void exchange_finished(const ExchangeRecord& record);
    // What Ollama has installed (the model catalog's latest answer), which bounds the model label.
    void installed_models(std::shared_ptr<const ModelFacts> facts);

    static constexpr std::size_t max_model_series = 64;  // beyond it, new names count as "other"

    // The text exposition format (version 0.0.4), what Prometheus scrapes.
    std::string scrape() const;

private:
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
    std::shared_ptr<const ModelFacts> installed_;  // null or not `known`: no list to check names against
};

}  // namespace sluice
