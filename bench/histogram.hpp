// histogram: a fixed-size log-linear histogram of non-negative integers (within 0.8 %).
//
// Values below 256 get a bucket each; above, every power of two is split into 128 buckets, so a
// recorded value is known to within 1/128 of itself. 7424 counters cover the whole uint64 range:
// recording is O(1), memory does not grow with the run, and percentiles stay honest at p99.9.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice::bench {

class Histogram {
public:
    void record(std::uint64_t value) {
        ++counts_[index_of(value)];
        ++count_;
        max_ = std::max(max_, value);
    }

    void merge(const Histogram& other) {
        for (std::size_t i = 0; i < kBuckets; ++i) {
            counts_[i] += other.counts_[i];
        }
        count_ += other.count_;
        max_ = std::max(max_, other.max_);
    }

    std::uint64_t count() const { return count_; }
    std::uint64_t max() const { return max_; }

    // The value at percentile `p` (0..100]: the middle of the bucket holding that rank, never more
    // than the largest value seen. 0 for an empty histogram.
    std::uint64_t percentile(double p) const {
        if (count_ == 0) {
            return 0;
        }
        auto rank = static_cast<std::uint64_t>(p / 100.0 * static_cast<double>(count_) + 0.999999);
        rank = std::clamp<std::uint64_t>(rank, 1, count_);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < kBuckets; ++i) {
            seen += counts_[i];
            if (seen >= rank) {
                return std::min(middle_of(i), max_);
            }
        }
        return max_;
    }

private:
    static constexpr unsigned kSubBits = 7;  // 128 buckets per power of two
    static constexpr std::uint64_t kExact = 2u << kSubBits;  // below 256: one bucket per value
    static constexpr std::size_t kBuckets = (64 - kSubBits + 1) << kSubBits;

    static std::size_t index_of(std::uint64_t v) {
        if (v < kExact) {
            return static_cast<std::size_t>(v);
        }
        const unsigned shift = static_cast<unsigned>(std::bit_width(v)) - 1 - kSubBits;
        return (std::size_t{shift} << kSubBits) + static_cast<std::size_t>(v >> shift);
    }

    static std::uint64_t middle_of(std::size_t index) {
        if (index < kExact) {
            return index;
        }
        const std::size_t shift = (index >> kSubBits) - 1;
        const std::uint64_t top = index - (shift << kSubBits);
        return (top << shift) + ((std::uint64_t{1} << shift) >> 1);
    }

    std::vector<std::uint64_t> counts_ = std::vector<std::uint64_t>(kBuckets);
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
};

}  // namespace sluice::bench
