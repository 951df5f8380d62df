// metrics: what happened, for Prometheus. Fed once per finished exchange from the record the
// access log is written from (never per relayed line), served in the text format by sluice's
// own HTTP server at metrics.path.
//
// Every label has a bounded set of values, so no client can grow the series: route is one of a
// fixed list (route_label), status an HTTP status code, kind a rewrite key (the config's rules
// bound them), model an installed model's name (from the model catalog) or "other" (the name
// Ollama's final line gives while the catalog has no list), at most max_model_series of them,
// backend a configured backend's label.
#pragma once

#include "sluice/access_log.hpp"
#include "sluice/rewrite.hpp"
#include "sluice/router.hpp"

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

// Pure: the `route` label of a request, from what the router made of it and its target.
// Ollama's routes are named by their path ("/api/chat"; "/api/blobs" for every blob,
// "/v1/models" for one model too), sluice's own by what they are ("ws", "ui", "healthz",
// "readyz", "metrics", "login", "logout", "page_api"); any other path is "other".
std::string_view route_label(Handler handler, std::string_view target);

// Pure: the kinds of change in an X-Sluice-Rewrite value ("model=a; num_ctx=8192" -> model,
// num_ctx), in order.
std::vector<std::string_view> rewrite_kinds(std::string_view rewrite_header);

class Metrics;

// What the fleet knows of one backend at a scrape (with several backends).
struct BackendReading {
    std::string_view backend;  // its label
    bool up = true;
    unsigned active_generations = 0;
};

// One exchange with Ollama in flight (sluice_active_streams): counted while this lives.
class ActiveStream {
public:
    ActiveStream() = default;
    ActiveStream(ActiveStream&& other) noexcept : metrics_(std::exchange(other.metrics_, nullptr)) {}
    ActiveStream& operator=(ActiveStream&& other) noexcept {
        if (this != &other) {
            release();
            metrics_ = std::exchange(other.metrics_, nullptr);
        }
        return *this;
    }
    ActiveStream(const ActiveStream&) = delete;
    ActiveStream& operator=(const ActiveStream&) = delete;
    ~ActiveStream() { release(); }

    void release();

private:
    friend class Metrics;
    explicit ActiveStream(Metrics& metrics) : metrics_(&metrics) {}
    Metrics* metrics_ = nullptr;
};

// One per server, shared by every event loop: prometheus-cpp's metrics are atomic (histograms
// take a short lock), and each is touched a few times per exchange, never per line.
// prometheus-cpp stays inside metrics.cpp.
class Metrics {
public:
    static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

    Metrics();
    ~Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // A proxied exchange or a WebSocket chat starts; it stops counting when the handle goes.
    ActiveStream stream_started();
    // Everything else is counted from the finished exchange's record.
    void exchange_finished(const ExchangeRecord& record);
    // What Ollama has installed (the model catalog's latest answer), which bounds the model label.
    void installed_models(std::shared_ptr<const ModelFacts> facts);

    static constexpr std::size_t max_model_series = 64;  // beyond it, new names count as "other"

    // The text exposition format (version 0.0.4), what Prometheus scrapes; `backends` (a fleet's,
    // empty with one Ollama) as they are now.
    std::string scrape(std::span<const BackendReading> backends = {}) const;

private:
    friend class ActiveStream;
    void stream_ended();

    struct Families;  // prometheus-cpp's registry and the series found so far
    std::unique_ptr<Families> families_;
};

}  // namespace sluice
