// model_listing: what a key with `models:` sees of Ollama's model lists (/api/tags, /api/ps,
// /v1/models): only the models it may use, so a listing never shows a model the key would be
// refused. Every byte but the dropped entries is Ollama's, as it sent it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// Which list a response carries: {"models":[{"name":...},...]} (tags, ps) or
// {"object":"list","data":[{"id":...},...]} (OpenAI's /v1/models).
enum class ModelListing { none, ollama, openai };

// `body` with only the entries `may_use` accepts (by "name", else "model"; "id" for OpenAI's).
// An entry without a readable name is dropped. Every array of that name at the top level is
// filtered (a duplicate member is read last-wins by Go and first-wins elsewhere: both see only
// allowed models). nullopt when the body is not such a listing: the caller must not pass it on.
std::optional<std::string> filter_model_listing(ModelListing kind, std::string_view body,
                                                const std::function<bool(std::string_view model)>& may_use);

// The names of the entries of such a listing (entries without a readable name are skipped);
// nullopt when `body` is not one.
std::optional<std::vector<std::string>> listed_model_names(ModelListing kind, std::string_view body);

}  // namespace sluice
