// user_bench: `sluice bench`: a user's real Ollama and model, directly and through a running
// sluice, TTFT and tokens/s side by side (the table one would otherwise assemble with curl).
//
// What it does: one untimed warm-up request per path (an empty conversation, which makes
// Ollama load the model and return), then `prompts` short questions on each path, streamed
// from /api/chat (stream: true, options.num_predict capped). Both paths get the same prompts in
// the same order. Direct and sluice requests alternate, so drift (heat, other load) falls on
// both; but when sluice's rules change how Ollama loads the model (another variant, num_ctx,
// any option but keep_alive and think, per the X-Sluice-Rewrite header), alternating would
// reload the model on every request, so the runs are done in two blocks instead, each right
// after its own warm-up. Each request opens its own connection, on both paths alike.
//
// Per request:
//   TTFT            request written -> first body byte (Ollama sends a line per token, so the
//                   first byte is the first token; it includes prompt evaluation)
//   Ollama tok/s    eval_count / eval_duration of the final line: the model's own speed
//   client tok/s    lines received / (final line - first line): what the client saw
// The table prints the median and the range (min-max) of each over the prompts, and the ratio
// of the medians, sluice / direct.
#pragma once

#include <chrono>
#include <ostream>
#include <string>

namespace sluice {

struct UserBenchOptions {
    std::string model;                                  // required: a model Ollama has installed
    std::string ollama_url = "http://127.0.0.1:11434";  // Ollama itself
    std::string sluice_url = "http://127.0.0.1:8434";   // a running sluice in front of it (https:// with tls:)
    std::string ca_file;                                // trust this CA for an https sluice; else the system's
    int prompts = 5;                                    // timed requests per path
    int num_predict = 128;                              // options.num_predict of each request
    std::chrono::milliseconds timeout{std::chrono::seconds(300)};  // per request, connect to last byte
};

// Runs the benchmark; the table goes to `out`, progress and errors to `err`. Returns 0, 1
// when a request fails (Ollama or sluice unreachable, the model not installed, a timeout, an
// error answer; one sentence on `err` says what to do), or 2 for an unusable URL.
int run_user_bench(const UserBenchOptions& options, std::ostream& out, std::ostream& err);

}  // namespace sluice
