// conversation_store: the conversation database on a thread of its own. Event loops hand it
// jobs and get their answers posted back, so no disk I/O ever runs on a relay loop; the queue
// of jobs has a budget, and a full one is refused at once (503) rather than waited on.
#pragma once

#include "sluice/config.hpp"
#include "sluice/conversation_db.hpp"

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

namespace sluice {

// The file: store.path, else conversations.db in the service's state directory
// ($STATE_DIRECTORY, which systemd sets from StateDirectory=), else $XDG_STATE_HOME/sluice,
// else ~/.local/state/sluice. Throws std::runtime_error when none can be named.
std::filesystem::path conversation_store_file(const StoreConfig& config);

class ConversationStore {
public:
    using Job = std::function<void(ConversationDb&)>;
    static constexpr std::size_t max_queued_jobs = 256;

    // Opens (creating the directory and the file, private to this user) and starts the thread.
    // Throws std::runtime_error naming the file and what to do.
    explicit ConversationStore(const StoreConfig& config);
    ~ConversationStore();
    ConversationStore(const ConversationStore&) = delete;
    ConversationStore& operator=(const ConversationStore&) = delete;

    // Runs `job` on the store's thread, after those before it. false when the queue is full or
    // the store has stopped. A job catches its own exceptions (one that escapes is logged).
    bool submit(Job job);
    // Runs the jobs queued, then ends the thread. Idempotent.
    void stop();

    const std::filesystem::path& file() const { return file_; }

private:
    void run();

    std::filesystem::path file_;
    ConversationDb db_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job> jobs_;
    bool stopping_ = false;
    std::thread thread_;  // last: started once everything it uses exists
};

}  // namespace sluice
