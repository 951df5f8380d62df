// handler_memory: a few fixed blocks that an asynchronous operation's state is built in, reused
// by the next operation (Asio's custom-allocation idiom). For the WebSocket path, whose composed
// writes nest more operations than Asio's own per-thread recycling keeps, so that relaying a
// line allocates nothing there either. One owner, one thread: no locks.
#pragma once

#include <array>
#include <cstddef>
#include <new>

namespace sluice {

class HandlerMemory {
public:
    static constexpr std::size_t block_bytes = 2048;
    static constexpr std::size_t blocks = 4;  // operations alive at once (a write nests three)

    HandlerMemory() = default;
    HandlerMemory(const HandlerMemory&) = delete;
    HandlerMemory& operator=(const HandlerMemory&) = delete;

    void* allocate(std::size_t size) {
        for (std::size_t i = 0; i < blocks && size <= block_bytes; ++i) {
            if (!in_use_[i]) {
                in_use_[i] = true;
                return storage_[i].data();
            }
        }
        return ::operator new(size);  // larger, or more at once, than planned for: still correct
    }

    void deallocate(void* pointer) {
        for (std::size_t i = 0; i < blocks; ++i) {
            if (pointer == storage_[i].data()) {
                in_use_[i] = false;
                return;
            }
        }
        ::operator delete(pointer);
    }

private:
    struct alignas(std::max_align_t) Block : std::array<std::byte, block_bytes> {};
    std::array<Block, blocks> storage_{};
    std::array<bool, blocks> in_use_{};
};

// The allocator Asio asks a completion handler for (bind it with asio::bind_allocator): every
// operation on the way to that handler, nested ones included, is then built in `memory`.
template <class T>
class HandlerAllocator {
public:
    using value_type = T;

    explicit HandlerAllocator(HandlerMemory& memory) noexcept : memory_(&memory) {}
    template <class U>
    HandlerAllocator(const HandlerAllocator<U>& other) noexcept : memory_(other.memory_) {}

    T* allocate(std::size_t count) { return static_cast<T*>(memory_->allocate(sizeof(T) * count)); }
    void deallocate(T* pointer, std::size_t) noexcept { memory_->deallocate(pointer); }

    template <class U>
    bool operator==(const HandlerAllocator<U>& other) const noexcept { return memory_ == other.memory_; }

private:
    template <class>
    friend class HandlerAllocator;
    HandlerMemory* memory_;
};

}  // namespace sluice
