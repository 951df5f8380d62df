// backend_choice: the order a request tries backends in.
#include "sluice/backend_choice.hpp"

namespace sluice {

namespace {

// Whether backend a is a better choice than b (strictly).
bool better(const BackendState& a, const BackendState& b) {
    if (a.up != b.up) return a.up;
    const bool a_holds = a.loaded || a.installed;
    const bool b_holds = b.loaded || b.installed;
    if (a_holds != b_holds) return a_holds;
    if (a.full() != b.full()) return !a.full();
    if (a.warm != b.warm) return a.warm;
    if (a.loaded != b.loaded) return a.loaded;
    // a.active / a.weight < b.active / b.weight, without division.
    return static_cast<std::uint64_t>(a.active) * b.weight < static_cast<std::uint64_t>(b.active) * a.weight;
}

}  // namespace

BackendOrder rank_backends(std::span<const BackendState> backends) {
    BackendOrder order;
    // Insertion sort: a handful of backends, stable (ties keep config order), no allocation.
    for (std::size_t i = 0; i < backends.size() && i < max_backends; ++i) {
        std::size_t at = order.size++;
        while (at > 0 && better(backends[i], backends[order.index[at - 1]])) {
            order.index[at] = order.index[at - 1];
            --at;
        }
        order.index[at] = static_cast<std::uint8_t>(i);
    }
    if (order.size > 0) {
        const auto& first = backends[order.index[0]];
        order.full = first.up && (first.loaded || first.installed) && first.full();
    }
    return order;
}

}  // namespace sluice
