// model_catalog: what Ollama has installed (/api/tags) and the shape of the models the rewrite
// rules name (/api/show), fetched in the background and cached, so the rewriter reads a
// snapshot and never waits on Ollama once the first answer is in.
#pragma once

#include "sluice/config.hpp"
#include "sluice/rewrite.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sluice {

class ModelCatalog {
public:
    static constexpr std::chrono::seconds refresh_interval{60};
    static constexpr std::chrono::seconds min_refresh_gap{5};  // bounds refreshes asked for by 404s

    // Does nothing until start(), and nothing at all while the config has no rewrite rules.
    explicit ModelCatalog(std::shared_ptr<const Config> config);

    // Runs on `io` (one event loop's) from now on: first refresh now, then every refresh_interval.
    // The catalog is destroyed before `io` (its timer lives on it).
    void start(boost::asio::io_context& io);
    void stop();          // from any thread; nothing to stop before start()
    // A reload's new rules (from any thread): refreshes at once, so models they name next are
    // described; starts refreshing if the old config had no rules.
    void reconfigure(std::shared_ptr<const Config> config);
    void refresh_soon();  // from any thread: e.g. Ollama just said a model is not found

    std::shared_ptr<const ModelFacts> facts() const;  // from any thread
    // Why the last refresh failed ("Connection refused"); empty after one that succeeded.
    std::string last_error() const;  // from any thread
    // Runs `ready` on `executor` once the first refresh has finished (at once if it has),
    // whether Ollama answered or not, so a request waits at most one refresh.
    void when_ready(const boost::asio::any_io_executor& executor, std::function<void()> ready);
    // Runs `published` with each snapshot the catalog publishes (on its loop). Call before start().
    void on_publish(std::function<void(std::shared_ptr<const ModelFacts>)> published) { on_publish_ = std::move(published); }

private:
    boost::asio::awaitable<void> run();
    boost::asio::awaitable<void> refresh();
    boost::asio::awaitable<InstalledModel> show(const std::string& name, std::uint64_t size);
    void publish(std::shared_ptr<const ModelFacts> facts, std::string error = {});

    boost::asio::io_context* io_ = nullptr;  // set by start()
    std::shared_ptr<const Config> config_;  // loop thread only
    bool running_ = false;                  // run() is going; loop thread only
    std::optional<boost::asio::steady_timer> wake_;
    std::chrono::steady_clock::time_point last_refresh_{};
    std::function<void(std::shared_ptr<const ModelFacts>)> on_publish_;
    std::map<std::string, InstalledModel> by_digest_;  // /api/show answers, kept while the digest is installed
    bool stopped_ = false;

    mutable std::mutex mutex_;  // guards what other loops read: the snapshot and the waiters
    std::shared_ptr<const ModelFacts> facts_;
    std::string last_error_;
    bool ready_ = false;
    std::vector<std::pair<boost::asio::any_io_executor, std::function<void()>>> waiters_;
};

}  // namespace sluice
