// fleet: the Ollamas sluice fronts (upstreams:), each watched in the background. A probe asks
// each for /api/version (a backend that does not answer, or that a client's request cannot
// reach, is taken out and probed back in with backoff) and, when there are several, for the
// models it has loaded (/api/ps) and installed (/api/tags), so a request goes where its model is
// warm (backend_choice.hpp). The probes run on the first loop; any loop asks where to go.
#pragma once

#include "sluice/backend_choice.hpp"
#include "sluice/config.hpp"
#include "sluice/health.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice {

class Fleet {
public:
    static constexpr std::chrono::milliseconds default_interval{std::chrono::seconds(10)};
    static constexpr std::chrono::milliseconds first_backoff{std::chrono::seconds(1)};
    // The User-Agent of the probes' requests, so Ollama's logs (and test doubles) can tell them
    // from a client's.
    static constexpr std::string_view user_agent = "sluice-readiness";

    // Asks every 10 s, or twice per health.ready_within when that is shorter, so one slow answer
    // cannot flip readiness on its own. `upstreams` is restart-only: the fleet keeps its own.
    explicit Fleet(std::shared_ptr<const Config> config);
    ~Fleet();
    Fleet(const Fleet&) = delete;
    Fleet& operator=(const Fleet&) = delete;

    // Runs the probes on `io` (one event loop's) from now on, asking first now. The fleet
    // outlives `io` (sessions on their way out still count their generations off).
    void start(boost::asio::io_context& io);
    void stop();  // from any thread; nothing to stop before start()

    std::size_t size() const { return members_.size(); }
    // Whether a request's backend is chosen (and its generations counted): several backends, or
    // one with max_generations. Else everything goes to the one, untouched.
    bool chooses() const { return chooses_; }
    const Backend& backend(std::size_t index) const;
    bool up(std::size_t backend) const;  // its last probe (or a client's connect) reached it

    // Where a request for `model` goes, best first ("" when it names none). One backend: it.
    // `conversation` (0: none) is a chat's mark (conversation_mark): the backend it last ran on
    // comes first among those that hold the model and are not full (routing.sticky).
    BackendOrder route(std::string_view model, std::uint64_t conversation = 0) const;
    // Where model management goes (pull, push, create, copy, delete, blobs): the managing
    // backend alone, never a random one.
    BackendOrder manage() const;

    // A generation in flight on one backend, counted while the lease lives (loop thread only);
    // its end gives the next request waiting for a model that backend holds its turn.
    class Lease {
    public:
        Lease() = default;
        Lease(Lease&& other) noexcept
            : fleet_(std::exchange(other.fleet_, nullptr)), backend_(other.backend_) {}
        Lease& operator=(Lease&& other) noexcept {
            if (this != &other) {
                release();
                fleet_ = std::exchange(other.fleet_, nullptr);
                backend_ = other.backend_;
            }
            return *this;
        }
        ~Lease() { release(); }
        void release() {
            if (fleet_) std::exchange(fleet_, nullptr)->ended(backend_);
        }

    private:
        friend class Fleet;
        Lease(Fleet* fleet, std::size_t backend) : fleet_(fleet), backend_(backend) {}
        Fleet* fleet_ = nullptr;
        std::size_t backend_ = 0;
    };
    Lease lease(std::size_t backend);

    // The line for a model whose backends are all full (BackendOrder::full): `turn` runs on
    // `executor` when a generation ends on a backend that holds the model, first come first
    // served; `front` keeps the place of a request whose turn came but found the room taken.
    // Returns its ticket; 0 when `max_waiting` already wait for the model. `turn` says whether
    // it took the turn: one that ended while its turn was on its way passes it to the next
    // waiting for the model, so no room stays unused while requests wait.
    std::uint64_t wait_turn(std::string_view model, std::size_t max_waiting, boost::asio::any_io_executor executor,
                            std::function<bool()> turn, bool front = false);
    void leave_line(std::uint64_t ticket);  // nothing runs for it once this returns
    // Where `ticket` stands among those waiting for its model: 1 is next; 0 when it is not in line.
    std::size_t place_in_line(std::uint64_t ticket) const;
    // Whether requests wait for `model`: a newcomer then waits behind them.
    bool line_for(std::string_view model) const;
    unsigned active(std::size_t backend) const;

    // A client's request could not connect to `backend`: it is out until a probe reaches it.
    void unreachable(std::size_t backend, const std::string& why);
    // A request for `model` went to `backend`: Ollama loads it there, so the next ones follow
    // before the next probe says so. `conversation` (0: none) is remembered there for `sticky`.
    void serving(std::size_t backend, std::string_view model, std::uint64_t conversation = 0,
                 std::chrono::milliseconds sticky = {});
    // At most this many conversations are remembered; past it the least recent goes.
    static constexpr std::size_t max_conversations = 65'536;

    // What /readyz answers from: the freshest answer of any backend.
    ReadinessSnapshot readiness() const;

    // What a probe learned of `backend`: it answers, with `version`, and holds these models
    // (names as Ollama lists them; ignored with a single backend). Public for the benchmark.
    void learned(std::size_t backend, std::string version, std::vector<std::string> loaded,
                 std::vector<std::string> installed);

private:
    struct Member;
    struct Waiter {
        std::uint64_t ticket = 0;
        std::string model;  // comparable form
        boost::asio::any_io_executor executor;
        std::function<bool()> turn;
    };
    void ended(std::size_t backend);
    void give_turn(std::deque<Waiter>::iterator waiter);  // with line_mutex_ held
    void turn_not_taken(const std::string& model);
    boost::asio::awaitable<void> watch(Member& member);
    boost::asio::awaitable<bool> ask(Member& member);

    std::shared_ptr<const Config> config_;  // the start-up config: its upstreams, timeouts and health
    std::chrono::milliseconds interval_;
    std::chrono::steady_clock::time_point started_;
    std::vector<std::unique_ptr<Member>> members_;
    bool chooses_ = false;
    boost::asio::io_context* io_ = nullptr;  // set by start()
    bool stopped_ = false;                   // probe loop only

    mutable std::mutex line_mutex_;  // guards the line; taken before a member's, never after
    std::deque<Waiter> line_;        // oldest first, every model
    std::atomic<std::size_t> waiting_{0};  // line_.size(), read without the lock when a generation ends
    std::atomic<bool> closing_{false};     // stop() was called: no turn is given any more (the loops go)
    std::uint64_t next_ticket_ = 1;

    // Conversations and the backend each last ran on, least recently served first.
    struct Conversation {
        std::uint64_t mark = 0;
        std::size_t backend = 0;
        std::chrono::steady_clock::time_point until;
    };
    mutable std::mutex conversations_mutex_;  // never held with another of the fleet's locks
    std::list<Conversation> conversation_order_;
    std::unordered_map<std::uint64_t, std::list<Conversation>::iterator> conversations_;
};

}  // namespace sluice
