// ui_assets: the browser UI's files, built by Vite from ui/ and embedded at build time
// (cmake/embed_ui.cmake), so the binary needs no node and no files at run time.
#pragma once

#include <cstddef>
#include <string_view>

namespace sluice {

struct UiAsset {
    std::string_view path;          // relative to /_sluice/: "index.html", "assets/index-1a2b.js"
    std::string_view content_type;
    std::string_view body;
    std::string_view gzip;          // the same bytes, gzip-compressed at build time
};

// The file for a request path: "/" (a browser's root) and "/_sluice/" are the page; other files
// live under "/_sluice/". nullptr when there is no such file.
const UiAsset* find_ui_asset(std::string_view path);

// Vite names the files under assets/ by their content's hash: they never change, so they may be
// cached for good; the page itself must be revalidated to pick up a new build.
bool is_immutable_ui_asset(const UiAsset& asset);

extern const UiAsset ui_assets[];
extern const std::size_t ui_asset_count;

}  // namespace sluice
