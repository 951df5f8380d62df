// fleet: the Ollamas sluice fronts (upstreams:), each watched in the background. A probe asks
// each for /api/version (a backend that does not answer, or that a client's request cannot
// reach, is taken out and probed back in with backoff) and, when there are several, for the
// models it has loaded (/api/ps) and installed (/api/tags), so a request goes where its model is
// warm (backend_choice.hpp). The probes run on the first loop; any loop asks where to go.
#pragma once

#include "sluice/backend_choice.hpp"
#include "sluice/config.hpp"
#include "sluice/health.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
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
    const Backend& backend(std::size_t index) const;
    bool up(std::size_t backend) const;  // its last probe (or a client's connect) reached it

    // Where a request for `model` goes, best first ("" when it names none). One backend: it.
    BackendOrder route(std::string_view model) const;
    // Where model management goes (pull, push, create, copy, delete, blobs): the managing
    // backend alone, never a random one.
    BackendOrder manage() const;

    // A generation in flight on one backend, counted while the lease lives (loop thread only).
    class Lease {
    public:
        Lease() = default;
        explicit Lease(std::atomic<unsigned>* active) : active_(active) { ++*active_; }
        Lease(Lease&& other) noexcept : active_(std::exchange(other.active_, nullptr)) {}
        Lease& operator=(Lease&& other) noexcept {
            if (this != &other) {
                release();
                active_ = std::exchange(other.active_, nullptr);
            }
            return *this;
        }
        ~Lease() { release(); }
        void release() {
            if (active_) --*std::exchange(active_, nullptr);
        }

    private:
        std::atomic<unsigned>* active_ = nullptr;
    };
    Lease lease(std::size_t backend);
    unsigned active(std::size_t backend) const;

    // A client's request could not connect to `backend`: it is out until a probe reaches it.
    void unreachable(std::size_t backend, const std::string& why);
    // A request for `model` went to `backend`: Ollama loads it there, so the next ones follow
    // before the next probe says so.
    void serving(std::size_t backend, std::string_view model);

    // What /readyz answers from: the freshest answer of any backend.
    ReadinessSnapshot readiness() const;

    // What a probe learned of `backend`: it answers, with `version`, and holds these models
    // (names as Ollama lists them; ignored with a single backend). Public for the benchmark.
    void learned(std::size_t backend, std::string version, std::vector<std::string> loaded,
                 std::vector<std::string> installed);

private:
    struct Member;
    boost::asio::awaitable<void> watch(Member& member);
    boost::asio::awaitable<bool> ask(Member& member);

    std::shared_ptr<const Config> config_;  // the start-up config: its upstreams, timeouts and health
    std::chrono::milliseconds interval_;
    std::chrono::steady_clock::time_point started_;
    std::vector<std::unique_ptr<Member>> members_;
    boost::asio::io_context* io_ = nullptr;  // set by start()
    bool stopped_ = false;                   // probe loop only
};

}  // namespace sluice
