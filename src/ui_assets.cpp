// ui_assets: the page's files by request path, embedded or from ui.dir.
#include "sluice/ui_assets.hpp"

#include "sluice/router.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <utility>

namespace sluice {
namespace {
constexpr off_t max_ui_file_bytes = 64 * 1024 * 1024;  // a page's file is far smaller
}  // namespace

std::string_view ui_file_name(std::string_view path) {
    if (path == "/" || path == own_prefix) return "index.html";
    if (path == favicon_path) return path.substr(1);
    if (path.starts_with(own_prefix)) return path.substr(own_prefix.size());
    return {};
}

const UiAsset* find_ui_asset(std::string_view path) {
    const auto name = ui_file_name(path);
    for (std::size_t i = 0; i < ui_asset_count && !name.empty(); ++i) {
        if (ui_assets[i].path == name) return &ui_assets[i];
    }
    return nullptr;
}

bool is_immutable_ui_asset(const UiAsset& asset) { return asset.path.starts_with("assets/"); }

std::string_view ui_content_type(std::string_view name) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 8> types{{
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".json", "application/json"},
        {".woff2", "font/woff2"},
    }};
    for (const auto& [extension, type] : types) {
        if (name.ends_with(extension)) return type;
    }
    return "application/octet-stream";
}

std::optional<std::string> read_ui_file(const std::string& dir, std::string_view name) {
    // Names come from request paths: no way out of the directory, no hidden files.
    if (name.empty() || name.starts_with('/') || name.find("..") != std::string_view::npos ||
        name.find('\\') != std::string_view::npos || name.find("/.") != std::string_view::npos || name.starts_with('.')) {
        return std::nullopt;
    }
    // Only a regular file, opened without blocking (a FIFO would stall the loop) and read with
    // plain system calls (no stream exceptions: a directory or an I/O error is a 404).
    const int fd = ::open((dir + "/" + std::string(name)).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    struct stat status {};
    const bool regular = ::fstat(fd, &status) == 0 && S_ISREG(status.st_mode) && status.st_size <= max_ui_file_bytes;
    std::string text;
    if (regular) {
        text.resize(static_cast<std::size_t>(status.st_size));
        std::size_t got = 0;
        while (got < text.size()) {
            const auto n = ::read(fd, text.data() + got, text.size() - got);
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
        }
        text.resize(got);
    }
    ::close(fd);
    if (!regular) return std::nullopt;
    return text;
}

}  // namespace sluice
