// ui_assets: the browser UI's files, built by Vite from ui/ and embedded at build time
// (cmake/embed_ui.cmake), so the binary needs no node and no files at run time; or, for UI
// development, read from the directory `ui.dir` names.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

struct UiAsset {
    std::string_view path;          // relative to /_sluice/: "index.html", "assets/index-1a2b.js"
    std::string_view body;
    std::string_view gzip;          // the same bytes, gzip-compressed at build time; empty when not smaller
};

// The page's file name for a request path: "/" (a browser's root) and "/_sluice/" are
// "index.html"; other files live under "/_sluice/". Empty when the path is not the page's.
std::string_view ui_file_name(std::string_view path);
// The embedded file for a request path; nullptr when there is no such file.
const UiAsset* find_ui_asset(std::string_view path);
// The Content-Type of a page file, by its extension.
std::string_view ui_content_type(std::string_view name);
// A page file read from `dir` (ui.dir); nullopt when there is none, or when `name` would leave
// the directory.
std::optional<std::string> read_ui_file(const std::string& dir, std::string_view name);

// Vite names the files under assets/ by their content's hash: they never change, so they may be
// cached for good; the page itself must be revalidated to pick up a new build.
bool is_immutable_ui_asset(const UiAsset& asset);

extern const UiAsset ui_assets[];
extern const std::size_t ui_asset_count;

}  // namespace sluice
