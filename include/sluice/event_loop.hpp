// event_loop: one thread's io_context and what it owns; sessions on a loop share nothing
// with other loops, so the relay path takes no locks.
#pragma once

#include "sluice/access_control.hpp"
#include "sluice/config.hpp"
#include "sluice/fleet.hpp"
#include "sluice/json_edit.hpp"
#include "sluice/key_limits.hpp"
#include "sluice/model_catalog.hpp"
#include "sluice/upstream_pool.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <unordered_set>

namespace sluice {

class HttpSession;
class WsSession;
class Metrics;
class ConversationStore;

// What the server shares with every loop, read-mostly: counters and the drain flag.
struct ServerState {
    std::atomic<std::size_t> open_connections{0};  // across all loops, for limits.max_connections
    std::atomic<std::size_t> active_exchanges{0};  // requests read and not yet answered: a drain waits for 0
    std::atomic<bool> draining{false};             // shutting down: new requests get 503
};

// What the server shares with every loop: built before the loops and outliving them (the
// sessions a loop's io_context still holds when it is destroyed may use them).
struct LoopServices {
    ServerState& state;
    ModelCatalog& catalog;             // runs on the first loop
    Fleet& fleet;                      // the backends; its probes run on the first loop
    BrowserSessions& browser_sessions;
    KeyLimits& key_limits;             // each key's requests a minute and streams at once
    const LocalNames* local_names;     // set while sluice listens on loopback: a Host must then name this machine
    Metrics* metrics;                  // null when metrics.path is ""
    ConversationStore* store;          // null with store: off
};

struct EventLoop {
    EventLoop(std::shared_ptr<const Config> cfg, const LoopServices& shared)
        : io(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO), config(std::move(cfg)), services(shared) {
        pools.reserve(config->upstreams.size());
        for (std::size_t backend = 0; backend < config->upstreams.size(); ++backend) pools.emplace_back(io, config, backend);
    }

    // This loop's live sessions, so a drain past its deadline can cut them; loop thread only.
    // Declared before `io`: destroying io destroys the sessions its handlers still hold, and
    // they leave this set as they go.
    std::unordered_set<HttpSession*> sessions;
    std::unordered_set<WsSession*> ws_sessions;

    // Run by exactly one thread, and its sockets used only from it: no locks around socket I/O.
    // (Other threads still post to it: the model catalog and the server's stop.)
    boost::asio::io_context io;
    // The config in force; a reload replaces it (on this thread). A request keeps the snapshot
    // it started with, so a stream in flight never sees its settings change under it.
    std::shared_ptr<const Config> config;
    std::vector<UpstreamPool> pools;  // one per backend (upstreams: is restart-only), by index
    JsonWorkspace json_workspace;  // the rewriter's parser memory, reused per request
    const LoopServices services;
};

}  // namespace sluice
