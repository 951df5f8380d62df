// fleet_listing: what a fleet answers for the lists of models and the version (/api/tags,
// /api/ps, /v1/models, /api/version): every backend's answer merged into one, as a client of a
// single Ollama expects it. Pure: the answers are fetched by the session (http_session.cpp).
#pragma once

#include "sluice/model_listing.hpp"

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sluice {

// The extra member each merged entry carries: the backends that hold it, by label. Ollama's
// clients ignore members they do not know.
inline constexpr std::string_view backends_member = "sluice_backends";

// One backend's answer; `body` empty when it gave none.
struct BackendAnswer {
    std::string_view backend;  // its label
    std::string body;
};

// The entries of every answer, first seen first, one per model name, each with
// backends_member listing where it is. nullopt when no answer is such a listing.
std::optional<std::string> merge_model_listings(ModelListing kind, std::span<const BackendAnswer> answers);

// {"version":"<the lowest of the answers'>"}: what every backend can do. nullopt when none answered.
std::optional<std::string> merge_versions(std::span<const BackendAnswer> answers);

}  // namespace sluice
