// child_process: runs a program (the real sluice binary, systemd-socket-activate) for tests that
// need a process of their own: signals, environment variables, exit status.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace sluice::test {

class ChildProcess {
public:
    // Starts `argv` (argv[0] a path) with this process's environment plus `environment`
    // ("NAME=value"); its stdout and stderr go to this process's stderr, or to the file
    // `output_path` (created or truncated) when given, for a test to read. Throws on failure.
    ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& environment = {},
                 const std::string& output_path = {});
    ~ChildProcess();  // kills (SIGKILL) and reaps it if it is still running
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    void signal(int number) const;
    // The exit status once it exited within `timeout` (-1 when killed by a signal).
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
    int exit_status_ = 0;
};

// Runs `sluice <arguments>` (a shell command line's words) to its end, killed after 10 s.
struct SluiceRun {
    int status = -1;     // the exit status; 124 when it had to be killed
    std::string output;  // stdout and stderr
};
SluiceRun run_sluice_to_end(const std::string& arguments);

}  // namespace sluice::test
