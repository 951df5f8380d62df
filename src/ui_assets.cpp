// ui_assets: lookup of the embedded page's files by request path.
#include "sluice/ui_assets.hpp"

#include "sluice/router.hpp"

namespace sluice {

const UiAsset* find_ui_asset(std::string_view path) {
    std::string_view relative = "index.html";
    if (path.starts_with(own_prefix) && path.size() > own_prefix.size()) {
        relative = path.substr(own_prefix.size());
    } else if (path != "/" && path != own_prefix) {
        return nullptr;
    }
    for (std::size_t i = 0; i < ui_asset_count; ++i) {
        if (ui_assets[i].path == relative) return &ui_assets[i];
    }
    return nullptr;
}

bool is_immutable_ui_asset(const UiAsset& asset) { return asset.path.starts_with("assets/"); }

}  // namespace sluice
