// fleet: the backends, their probes, and where each request goes.
#include "sluice/fleet.hpp"

#include "sluice/ascii.hpp"
#include "sluice/model_listing.hpp"
#include "sluice/upstream_fetch.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

namespace sluice {

namespace asio = boost::asio;

namespace {

std::string parse_version(const std::string& json) {
    simdjson::dom::parser parser;
    simdjson::dom::element document;
    std::string_view version;
    if (parser.parse(json).get(document) != simdjson::SUCCESS ||
        document["version"].get_string().get(version) != simdjson::SUCCESS) {
        throw std::runtime_error("/api/version answered something other than {\"version\": \"...\"}");
    }
    return std::string(version);
}

// Names as a request and a listing are compared: "Qwen3" and "qwen3:latest" are one model.
std::string comparable(std::string_view model) { return ascii_lowercase(normalize_model_name(model)); }

std::vector<std::string> model_names(const std::string& body, std::string_view route) {
    auto names = listed_model_names(ModelListing::ollama, body);
    if (!names) throw std::runtime_error(std::string(route) + " answered something other than a model list");
    return std::move(*names);
}

void make_comparable(std::vector<std::string>& names) {
    for (auto& name : names) name = comparable(name);
    std::sort(names.begin(), names.end());
}

bool holds(const std::vector<std::string>& sorted, const std::string& model) {
    return std::binary_search(sorted.begin(), sorted.end(), model);
}

}  // namespace

struct Fleet::Member {
    Member(std::size_t i, Backend b, std::chrono::steady_clock::time_point started) : index(i), backend(std::move(b)) {
        health.started = started;
    }

    const std::size_t index;
    const Backend backend;
    std::atomic<unsigned> active{0};
    asio::steady_timer* wake = nullptr;  // the probe's, in its coroutine frame; probe loop only
    std::chrono::milliseconds backoff{first_backoff};

    mutable std::mutex mutex;  // guards what follows: loops read it, the probe writes it
    bool up = true;            // until a probe or a request says otherwise
    ReadinessSnapshot health;
    std::vector<std::string> loaded;     // comparable names, sorted (several backends only)
    std::vector<std::string> installed;
};

Fleet::Fleet(std::shared_ptr<const Config> config)
    : config_(std::move(config)),
      interval_(std::min(default_interval, config_->health.ready_within / 2)),
      started_(std::chrono::steady_clock::now()) {
    for (const auto& backend : config_->upstreams) {
        members_.push_back(std::make_unique<Member>(members_.size(), backend, started_));
    }
    chooses_ = members_.size() > 1 || config_->upstreams.front().max_generations != 0;
}

Fleet::~Fleet() = default;

void Fleet::start(asio::io_context& io) {
    io_ = &io;
    for (auto& member : members_) asio::co_spawn(io, watch(*member), asio::detached);
}

void Fleet::stop() {
    closing_ = true;
    if (!io_) return;
    asio::post(*io_, [this] {
        stopped_ = true;
        for (auto& member : members_) {
            if (member->wake) member->wake->cancel();
        }
    });
}

const Backend& Fleet::backend(std::size_t index) const { return members_[index]->backend; }

bool Fleet::up(std::size_t backend) const {
    const auto& member = *members_[backend];
    const std::lock_guard lock(member.mutex);
    return member.up;
}

BackendOrder Fleet::route(std::string_view model, std::uint64_t conversation) const {
    if (members_.size() == 1) {  // one box: it holds every model it is asked for, as far as sluice knows
        const auto& only = *members_.front();
        const BackendState state{.active = only.active.load(std::memory_order_relaxed),
                                 .max_generations = only.backend.max_generations};
        return BackendOrder{{0}, 1, state.full()};
    }
    const auto name = model.empty() ? std::string() : comparable(model);
    std::array<BackendState, max_backends> states;
    for (std::size_t i = 0; i < members_.size(); ++i) {
        const auto& member = *members_[i];
        auto& state = states[i];
        state.active = member.active.load(std::memory_order_relaxed);
        state.weight = member.backend.weight;
        state.max_generations = member.backend.max_generations;
        const std::lock_guard lock(member.mutex);
        state.up = member.up;
        if (!name.empty()) {
            state.loaded = holds(member.loaded, name);
            state.installed = state.loaded || holds(member.installed, name);
        }
    }
    if (conversation != 0) {
        const std::lock_guard lock(conversations_mutex_);
        const auto found = conversations_.find(conversation);
        if (found != conversations_.end() && found->second->until > std::chrono::steady_clock::now()) {
            states[found->second->backend].warm = true;
        }
    }
    return rank_backends(std::span(states.data(), members_.size()));
}

BackendOrder Fleet::manage() const {
    return BackendOrder{{static_cast<std::uint8_t>(config_->managing_backend())}, 1};
}

Fleet::Lease Fleet::lease(std::size_t backend) {
    ++members_[backend]->active;
    return Lease(this, backend);
}

void Fleet::ended(std::size_t backend) {
    auto& member = *members_[backend];
    --member.active;
    if (waiting_.load() == 0 || closing_) return;
    const std::lock_guard line_lock(line_mutex_);
    for (auto waiter = line_.begin(); waiter != line_.end(); ++waiter) {
        bool holds_it = members_.size() == 1;
        if (!holds_it) {
            const std::lock_guard lock(member.mutex);
            holds_it = holds(member.loaded, waiter->model) || holds(member.installed, waiter->model);
        }
        if (!holds_it) continue;
        give_turn(waiter);
        return;
    }
}

void Fleet::give_turn(std::deque<Waiter>::iterator waiter) {
    asio::post(waiter->executor, [this, turn = std::move(waiter->turn), model = waiter->model] {
        if (!turn()) turn_not_taken(model);
    });
    line_.erase(waiter);
    --waiting_;
}

void Fleet::turn_not_taken(const std::string& model) {
    if (waiting_.load() == 0 || closing_) return;
    const std::lock_guard lock(line_mutex_);
    const auto next = std::find_if(line_.begin(), line_.end(), [&](const Waiter& waiter) { return waiter.model == model; });
    if (next != line_.end()) give_turn(next);
}

std::uint64_t Fleet::wait_turn(std::string_view model, std::size_t max_waiting, asio::any_io_executor executor,
                               std::function<bool()> turn, bool front) {
    auto name = comparable(model);
    const std::lock_guard lock(line_mutex_);
    const auto waiting = static_cast<std::size_t>(
        std::count_if(line_.begin(), line_.end(), [&](const Waiter& waiter) { return waiter.model == name; }));
    if (!front && waiting >= max_waiting) return 0;
    Waiter waiter{next_ticket_++, std::move(name), std::move(executor), std::move(turn)};
    const auto ticket = waiter.ticket;
    if (front) {
        line_.push_front(std::move(waiter));
    } else {
        line_.push_back(std::move(waiter));
    }
    ++waiting_;
    return ticket;
}

void Fleet::leave_line(std::uint64_t ticket) {
    const std::lock_guard lock(line_mutex_);
    const auto at = std::find_if(line_.begin(), line_.end(), [&](const Waiter& waiter) { return waiter.ticket == ticket; });
    if (at == line_.end()) return;
    line_.erase(at);
    --waiting_;
}

std::size_t Fleet::place_in_line(std::uint64_t ticket) const {
    const std::lock_guard lock(line_mutex_);
    const auto at = std::find_if(line_.begin(), line_.end(), [&](const Waiter& waiter) { return waiter.ticket == ticket; });
    if (at == line_.end()) return 0;
    return 1 + static_cast<std::size_t>(std::count_if(line_.begin(), at, [&](const Waiter& waiter) { return waiter.model == at->model; }));
}

bool Fleet::line_for(std::string_view model) const {
    if (waiting_.load() == 0) return false;
    const auto name = comparable(model);
    const std::lock_guard lock(line_mutex_);
    return std::any_of(line_.begin(), line_.end(), [&](const Waiter& waiter) { return waiter.model == name; });
}

unsigned Fleet::active(std::size_t backend) const { return members_[backend]->active.load(); }

void Fleet::unreachable(std::size_t backend, const std::string& why) {
    if (members_.size() == 1) return;  // nowhere else to go: the probe alone reports it
    auto& member = *members_[backend];
    {
        const std::lock_guard lock(member.mutex);
        if (!member.up) return;
        member.up = false;
        member.health.last_error = why;
    }
    spdlog::warn("ollama at {} ({}) cannot be reached: {}; its requests go to the other backends until it answers",
                 member.backend.url.url, member.backend.label(), why);
    if (io_) {
        asio::post(*io_, [&member] {
            member.backoff = first_backoff;
            if (member.wake) member.wake->cancel();  // probe it again from now, with backoff
        });
    }
}

void Fleet::serving(std::size_t backend, std::string_view model, std::uint64_t conversation,
                    std::chrono::milliseconds sticky) {
    if (members_.size() == 1 || model.empty()) return;
    auto& member = *members_[backend];
    auto name = comparable(model);
    {
        const std::lock_guard lock(member.mutex);
        const auto at = std::lower_bound(member.loaded.begin(), member.loaded.end(), name);
        if (at == member.loaded.end() || *at != name) member.loaded.insert(at, std::move(name));
    }
    if (conversation == 0 || sticky.count() <= 0) return;
    const Conversation served{conversation, backend, std::chrono::steady_clock::now() + sticky};
    const std::lock_guard lock(conversations_mutex_);
    if (const auto found = conversations_.find(conversation); found != conversations_.end()) {
        conversation_order_.splice(conversation_order_.end(), conversation_order_, found->second);
        *found->second = served;
        return;
    }
    if (conversations_.size() >= max_conversations) {
        conversations_.erase(conversation_order_.front().mark);
        conversation_order_.pop_front();
    }
    conversations_.emplace(conversation, conversation_order_.insert(conversation_order_.end(), served));
}

void Fleet::learned(std::size_t backend, std::string version, std::vector<std::string> loaded,
                    std::vector<std::string> installed) {
    make_comparable(loaded);
    make_comparable(installed);
    auto& member = *members_[backend];
    const std::lock_guard lock(member.mutex);
    member.up = true;
    member.health.answered = std::chrono::steady_clock::now();
    member.health.answered_wall = std::chrono::system_clock::now();
    member.health.version = std::move(version);
    member.health.last_error.clear();
    member.loaded = std::move(loaded);
    member.installed = std::move(installed);
}

ReadinessSnapshot Fleet::readiness() const {
    ReadinessSnapshot best;
    best.started = started_;
    for (const auto& member : members_) {
        const std::lock_guard lock(member->mutex);
        const auto& health = member->health;
        if (health.answered && (!best.answered || *health.answered > *best.answered)) best = health;
        if (!best.answered && best.last_error.empty()) best.last_error = health.last_error;
    }
    return best;
}

// --- the probes ------------------------------------------------------------------------------

// The timer lives in this frame, so it goes with the loop's io_context (which destroys the frame
// if the loop ends first), while the fleet, which sessions still use on their way out, outlives it.
asio::awaitable<void> Fleet::watch(Member& member) {
    asio::steady_timer wake(*io_);
    member.wake = &wake;
    struct Forget {
        Member& member;
        ~Forget() { member.wake = nullptr; }
    } forget{member};
    while (!stopped_) {
        const bool answered = co_await ask(member);
        if (stopped_) break;
        if (answered) {
            member.backoff = first_backoff;
            wake.expires_after(interval_);
        } else {
            wake.expires_after(std::min(member.backoff, interval_));
            member.backoff = std::min(member.backoff * 2, interval_);
        }
        boost::system::error_code ignored;
        co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
}

asio::awaitable<bool> Fleet::ask(Member& member) {
    const FetchOptions options{.user_agent = user_agent, .response_timeout = interval_, .ollama = &member.backend.url};
    const bool several = members_.size() > 1;
    const auto where = several ? fmt::format("ollama at {} ({})", member.backend.url.url, member.backend.label())
                               : fmt::format("ollama at {}", member.backend.url.url);
    try {
        auto version = parse_version(co_await fetch_from_upstream(*io_, *config_, "GET", "/api/version", {}, options));
        std::vector<std::string> loaded, installed;
        if (several) {
            loaded = model_names(co_await fetch_from_upstream(*io_, *config_, "GET", "/api/ps", {}, options), "/api/ps");
            installed = model_names(co_await fetch_from_upstream(*io_, *config_, "GET", "/api/tags", {}, options), "/api/tags");
        }
        bool back = false;
        {
            const std::lock_guard lock(member.mutex);
            back = !member.health.answered || !member.health.last_error.empty() || !member.up;
        }
        if (back) spdlog::info("{} answers (version {})", where, version);
        learned(member.index, std::move(version), std::move(loaded), std::move(installed));
        co_return true;
    } catch (const std::exception& e) {
        auto error = describe_fetch_error(e);
        const std::lock_guard lock(member.mutex);
        // Once per outage, not every interval: the journal should show when it began.
        if (member.health.last_error.empty()) {
            if (several) {
                spdlog::warn("{} does not answer: {}; its requests go to the other backends until it does", where, error);
            } else {
                spdlog::warn("{} does not answer /api/version: {}; {} answers 503", where, error, config_->health.readyz);
            }
        }
        member.up = false;
        member.health.last_error = std::move(error);
        co_return false;
    }
}

}  // namespace sluice
