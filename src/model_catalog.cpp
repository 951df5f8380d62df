// model_catalog: installed models and their shapes, fetched from Ollama in the background.
#include "sluice/model_catalog.hpp"

#include "sluice/access_log.hpp"
#include "sluice/json_error.hpp"
#include "sluice/upstream_fetch.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice {

namespace asio = boost::asio;

namespace {

struct TagEntry {
    std::string name;
    std::string digest;
    std::uint64_t size = 0;
};

std::vector<TagEntry> parse_tags(const std::string& json) {
    simdjson::dom::parser parser;
    simdjson::dom::element document;
    simdjson::dom::array models;
    if (parser.parse(json).get(document) != simdjson::SUCCESS ||
        document["models"].get_array().get(models) != simdjson::SUCCESS) {
        throw std::runtime_error("/api/tags answered something other than {\"models\": [...]}");
    }
    std::vector<TagEntry> entries;
    for (const auto model : models) {
        TagEntry entry;
        std::string_view text;
        if (model["name"].get_string().get(text) != simdjson::SUCCESS) continue;
        entry.name = text;
        if (model["digest"].get_string().get(text) == simdjson::SUCCESS) entry.digest = text;
        std::uint64_t size = 0;
        if (model["size"].get_uint64().get(size) == simdjson::SUCCESS) entry.size = size;
        entries.push_back(std::move(entry));
    }
    return entries;
}

}  // namespace

ModelCatalog::ModelCatalog(std::shared_ptr<const Config> config)
    : config_(std::move(config)), facts_(std::make_shared<const ModelFacts>()) {}

void ModelCatalog::start(asio::io_context& io) {
    io_ = &io;
    wake_.emplace(io);
    if (config_->rewrite.models.empty()) {
        publish(facts_);  // nothing to learn: requests never wait
        return;
    }
    running_ = true;
    asio::co_spawn(*io_, run(), asio::detached);
}

void ModelCatalog::reconfigure(std::shared_ptr<const Config> config) {
    if (!io_) {  // not started: no loop runs it yet
        config_ = std::move(config);
        return;
    }
    asio::post(*io_, [this, config = std::move(config)]() mutable {
        config_ = std::move(config);
        if (stopped_ || config_->rewrite.models.empty()) return;
        if (running_) {
            wake_->cancel();
        } else {
            running_ = true;
            asio::co_spawn(*io_, run(), asio::detached);
        }
    });
}

void ModelCatalog::stop() {
    if (!io_) return;
    asio::post(*io_, [this] {
        stopped_ = true;
        wake_->cancel();
    });
}

void ModelCatalog::refresh_soon() {
    if (!io_) return;
    asio::post(*io_, [this] {
        if (std::chrono::steady_clock::now() - last_refresh_ >= min_refresh_gap) wake_->cancel();
    });
}

std::shared_ptr<const ModelFacts> ModelCatalog::facts() const {
    const std::lock_guard lock(mutex_);
    return facts_;
}

std::string ModelCatalog::last_error() const {
    const std::lock_guard lock(mutex_);
    return last_error_;
}

void ModelCatalog::when_ready(const asio::any_io_executor& executor, std::function<void()> ready) {
    {
        const std::lock_guard lock(mutex_);
        if (!ready_) {
            waiters_.emplace_back(executor, std::move(ready));
            return;
        }
    }
    ready();
}

void ModelCatalog::publish(std::shared_ptr<const ModelFacts> facts, std::string error) {
    if (on_publish_) on_publish_(facts);  // first: a request released below may finish at once
    decltype(waiters_) waiters;
    {
        const std::lock_guard lock(mutex_);
        facts_ = std::move(facts);
        last_error_ = std::move(error);
        ready_ = true;
        waiters.swap(waiters_);
    }
    for (auto& [executor, ready] : waiters) asio::post(executor, std::move(ready));
}

asio::awaitable<void> ModelCatalog::run() {
    while (!stopped_) {
        last_refresh_ = std::chrono::steady_clock::now();
        co_await refresh();
        if (stopped_) break;  // stop() came while Ollama was being asked: no wake_ wait to cancel yet
        // Ollama often starts after sluice: until it first answers, ask again soon, so rules
        // take effect (and num_ctx settles) within seconds rather than a whole interval.
        wake_->expires_after(last_error().empty() ? refresh_interval : min_refresh_gap);
        boost::system::error_code ignored;
        co_await wake_->async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
}

// One model's card. A model Ollama cannot describe (a broken blob) is listed without a shape,
// so the other models' rules still work.
asio::awaitable<InstalledModel> ModelCatalog::show(const std::string& name, std::uint64_t size) {
    const auto config = config_;  // a reload may replace config_ while Ollama answers
    std::string request = R"({"model":")";
    append_json_escaped(request, name);
    request += "\"}";
    try {
        co_return installed_model_from_show(
            name, size, co_await fetch_from_upstream(*io_, *config, "POST", "/api/show", request));
    } catch (const std::exception& e) {
        spdlog::warn("rewrite: ollama could not describe model {} (/api/show): {}", escape_for_log(name),
                     escape_for_log(e.what()));
    }
    co_return InstalledModel{name, std::nullopt, std::nullopt};
}

asio::awaitable<void> ModelCatalog::refresh() {
    const auto config = config_;  // one set of rules per refresh, alive while Ollama answers
    try {
        const auto tags = parse_tags(co_await fetch_from_upstream(*io_, *config, "GET", "/api/tags"));
        auto facts = std::make_shared<ModelFacts>();
        facts->known = true;
        std::map<std::string, InstalledModel> by_digest;
        for (const auto& tag : tags) {
            const bool named_by_a_rule = std::any_of(config->rewrite.models.begin(), config->rewrite.models.end(),
                                                     [&](const RewriteRule& rule) {
                                                         return model_pattern_matches(rule.match, tag.name);
                                                     });
            InstalledModel model{tag.name, std::nullopt, std::nullopt};
            if (named_by_a_rule) {
                if (const auto cached = by_digest_.find(tag.digest); cached != by_digest_.end() && !tag.digest.empty()) {
                    model = cached->second;
                    model.name = tag.name;
                } else {
                    model = co_await show(tag.name, tag.size);
                }
                if (!tag.digest.empty()) by_digest[tag.digest] = model;
            }
            facts->models.push_back(std::move(model));
        }
        by_digest_ = std::move(by_digest);
        spdlog::debug("model catalog: {} installed models", facts->models.size());
        publish(std::move(facts));
    } catch (const std::exception& e) {
        std::string error = describe_fetch_error(e);
        spdlog::warn("rewrite: cannot read the installed models from ollama at {}: {}; "
                     "model rules that need them change nothing until it answers",
                     config->upstream().url, error);
        publish(facts(), std::move(error));  // keep what was known; waiting requests go on
    }
}

}  // namespace sluice
