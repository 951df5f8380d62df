// conversation_store: the database's own thread and its bounded queue of jobs.
#include "sluice/conversation_store.hpp"

#include <SQLiteCpp/Exception.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <stdexcept>

namespace sluice {
namespace {

namespace fs = std::filesystem;

// Creates the directory (private to this user) and opens the file in it.
ConversationDb open_store(const fs::path& file, std::size_t max_bytes) {
    const auto cannot_open = [&file](std::string_view why) {
        return std::runtime_error(fmt::format("cannot open the conversation store {}: {} (set store.path to a writable "
                                              "file, or store: off to keep chats in each browser)",
                                              file.string(), why));
    };
    try {
        if (file.has_parent_path() && !fs::exists(file.parent_path())) {
            fs::create_directories(file.parent_path());
            fs::permissions(file.parent_path(), fs::perms::owner_all);
        }
        ConversationDb db(file.string(), max_bytes);
        // Private chats: only this user reads the file (its -wal and -shm files take its mode).
        fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
        return db;
    } catch (const SQLite::Exception& failed) {
        throw cannot_open(failed.what());
    } catch (const fs::filesystem_error& failed) {
        throw cannot_open(failed.code().message());
    }
}

}  // namespace

fs::path conversation_store_file(const StoreConfig& config) {
    if (!config.path.empty()) return config.path;
    const auto variable = [](const char* name) -> std::string {
        const char* value = std::getenv(name);
        return value && *value == '/' ? value : "";
    };
    constexpr std::string_view name = "conversations.db";
    if (const auto state = variable("STATE_DIRECTORY"); !state.empty()) {
        return fs::path(state.substr(0, state.find(':'))) / name;  // several directories: the first
    }
    if (const auto xdg = variable("XDG_STATE_HOME"); !xdg.empty()) return fs::path(xdg) / "sluice" / name;
    if (const auto home = variable("HOME"); !home.empty()) return fs::path(home) / ".local/state/sluice" / name;
    throw std::runtime_error("no directory for the conversation store ($STATE_DIRECTORY, $XDG_STATE_HOME and $HOME are "
                             "unset): set store.path, or store: off");
}

ConversationStore::ConversationStore(const StoreConfig& config)
    : file_(conversation_store_file(config)), db_(open_store(file_, config.max_bytes)), thread_([this] { run(); }) {}

ConversationStore::~ConversationStore() { stop(); }

bool ConversationStore::submit(Job job) {
    {
        const std::lock_guard lock(mutex_);
        if (stopping_ || jobs_.size() >= max_queued_jobs) return false;
        jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
    return true;
}

void ConversationStore::stop() {
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void ConversationStore::run() {
    for (;;) {
        Job job;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // stopping, and every job queued has run
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        try {
            job(db_);
        } catch (const std::exception& error) {
            spdlog::error("a conversation store job failed: {}", error.what());
        }
    }
}

}  // namespace sluice
