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
        : io(1), config(cfg), pool(io, cfg), open_connections(open) {}

    boost::asio::io_context io;  // concurrency hint 1: run by exactly one thread
    const Config& config;
    UpstreamPool pool;
    JsonWorkspace json_workspace;                // the rewriter's parser memory, reused per request
    ModelCatalog* catalog = nullptr;             // shared by all loops; set by the server
    std::atomic<std::size_t>& open_connections;  // across all loops, for limits.max_connections
};

}  // namespace sluice
