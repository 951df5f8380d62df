// backend_choice: which of several Ollamas a request goes to, decided from what each is known
// to hold and how busy it is. Pure and allocation-free: its cost per request is measured alone
// (bench/backend_choice_bench.cpp) and it is tested without sockets.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace sluice {

// A fleet's size bound: config validation refuses more, and an order fits on the stack.
inline constexpr std::size_t max_backends = 64;

// What sluice knows of one backend when a request comes.
struct BackendState {
    bool up = true;              // its last probe (or a client's connect) reached it
    bool loaded = false;         // the request's model is in its memory (/api/ps)
    bool installed = false;      // the request's model is on its disk (/api/tags)
    unsigned active = 0;         // generations sluice has in flight there
    unsigned weight = 1;         // >= 1
    unsigned max_generations = 0;  // 0: no limit known
    bool warm = false;           // the request's conversation ran here last (routing.sticky)

    bool full() const { return max_generations != 0 && active >= max_generations; }
};

// Backend indices, best first: every backend appears once, so a request whose first choice
// cannot be reached fails over down the list.
struct BackendOrder {
    std::array<std::uint8_t, max_backends> index{};
    std::size_t size = 0;
    bool full = false;  // the first holds the model, is up and at its max_generations: so is every one that holds it

    const std::uint8_t* begin() const { return index.data(); }
    const std::uint8_t* end() const { return index.data() + size; }
};

// Up before down; holding the model (loaded or installed) before not; below its
// max_generations before full; where the conversation ran last before elsewhere (its KV cache
// is there); loaded before only installed; then fewest active generations per unit of weight;
// then config order. A request that names no model sees only the last three.
BackendOrder rank_backends(std::span<const BackendState> backends);

}  // namespace sluice
