// page_api: sluice's own JSON API for the browser page, under /_sluice/api/. The page asks what
// the key it is logged in with may do (so it offers only that) and what the rewriter will run
// for a model (so the picker shows the model and settings Ollama will really get), and what
// `sluice doctor` finds. Pure: the session hands in the config, the key, the model catalog's
// snapshot and, for the doctor, the facts it gathered; no I/O.
#pragma once

#include "sluice/config.hpp"
#include "sluice/doctor.hpp"
#include "sluice/rewrite.hpp"

#include <string>
#include <string_view>

namespace sluice {

struct PageApiAnswer {
    PageApiAnswer(unsigned status_, std::string body_, std::string_view content_type_ = "application/json; charset=utf-8",
                  std::string attachment_ = {})
        : status(status_), body(std::move(body_)), content_type(content_type_), attachment(std::move(attachment_)) {}

    unsigned status = 200;
    std::string body;  // JSON: the answer, or {"error": ...} (Markdown for a conversation exported so)
    std::string_view content_type;
    std::string attachment;  // a file name: the browser saves the body (Content-Disposition)
};

// GET /_sluice/api/me
//   {"key": "alice" | null, "routes": {"/api/chat": true, "/api/pull": false, ...}, "doctor": true,
//    "store": true} for the Ollama routes the page uses; null key when authentication is off;
//   store: whether conversations are kept on the server (conversation_api.hpp answers for them).
// GET /_sluice/api/explain?model=M[&options={"num_ctx":4096,...}]
//   {"model": "<what runs>", "changes": [...], "reasons": [...]}: the rewriter run on a chat
//   for M (with the chat's own options, a JSON object) with the catalog's facts; 403 for a
//   model the key may not use.
// GET /_sluice/api/doctor
//   doctor_report_json: Ollama's facts and the findings, for keys with `routes: all` (the fixes
//   are the admin's). sluice's server does not read Ollama's environment (`sluice doctor` does).
// `target` is normalized (request_target.hpp); `key` is null when authentication is off.
// `doctor` is the gathered facts when page_api_wants_doctor() said so, else null.
PageApiAnswer answer_page_api(std::string_view method, std::string_view target, const Config& config,
                              const ApiKey* key, const ModelFacts& facts, const DoctorFacts* doctor = nullptr);

// Whether answering needs the doctor's facts gathered from Ollama first.
bool page_api_wants_doctor(std::string_view method, std::string_view target, const ApiKey* key);

}  // namespace sluice
