// event_loop: one thread's io_context and what it owns; sessions on a loop share nothing
// with other loops, so the relay path takes no locks.
#pragma once

#include "sluice/config.hpp"
#include "sluice/json_edit.hpp"
#include "sluice/model_catalog.hpp"
#include "sluice/upstream_pool.hpp"

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>

namespace sluice {

struct EventLoop {
    EventLoop(const Config& cfg, std::atomic<std::size_t>& open)
        : io(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO), config(cfg), pool(io, cfg), open_connections(open) {}

    // Run by exactly one thread, and its sockets used only from it: no locks around socket I/O.
    // (Other threads still post to it: the model catalog and the server's stop.)
    boost::asio::io_context io;
    const Config& config;
    UpstreamPool pool;
    JsonWorkspace json_workspace;                // the rewriter's parser memory, reused per request
    ModelCatalog* catalog = nullptr;             // shared by all loops; set by the server
    std::atomic<std::size_t>& open_connections;  // across all loops, for limits.max_connections
};

}  // namespace sluice
