// admission: what sluice decides about a request from its header alone, before anything goes
// to Ollama or to one of sluice's own handlers. design.md's steps, in this order, each a named
// function: draining, framing, target, host, route, origin, preflight, key. The session only
// carries the decision out. The model step needs the body, so it runs later, but is the same
// check for both front ends (access_control's model_refusal, called by the relay and by the
// WebSocket per chat). No I/O: unit-tested from a table of requests.
#pragma once

#include "sluice/access_control.hpp"
#include "sluice/config.hpp"
#include "sluice/router.hpp"

#include <boost/beast/http/message.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace sluice {

using RequestHeader = boost::beast::http::request_header<>;

// What admission reads besides the request: the exchange's config snapshot and the loop's
// shared services.
struct AdmissionContext {
    const Config& config;
    BrowserSessions& sessions;
    const LocalNames* local_names = nullptr;  // set while sluice listens on loopback
    bool draining = false;
};

// Go on: to the handler `route` names. `key` is whose request it is (null when authentication
// is off or the handler is public); `session` the browser session's token when the key came
// from the cookie (a view into the request).
struct Admitted {
    Route route;
    const ApiKey* key = nullptr;
    std::string_view session;
};

// Answer {"error": message} with `status`. `close`: what follows the header cannot be trusted
// (bad framing, a bad target, a foreign Host, a drain), so the connection ends with it.
struct Refused {
    unsigned status = 0;
    std::string message;
    bool close = false;
    const ApiKey* key = nullptr;          // known when the key was found but may not use the route
    Handler handler = Handler::proxy;     // once routed: the metrics' route label
};

// A CORS preflight from an allowed origin: answered 204 by sluice, never forwarded.
struct Preflight {};

using Admission = std::variant<Admitted, Refused, Preflight>;

// `request` has its target replaced by the normalized one (request_target.hpp) once the target
// step passes: routed, authorized and forwarded as one.
Admission admit(RequestHeader& request, const AdmissionContext& context);

// The steps, in order; each returns why it refuses, or nothing.
namespace admission {
std::optional<Refused> draining(const AdmissionContext& context);
std::optional<Refused> framing(const RequestHeader& request);
std::optional<Refused> target(RequestHeader& request);
std::optional<Refused> host(const RequestHeader& request, const AdmissionContext& context);
Route route(const RequestHeader& request, const Config& config);
std::optional<Refused> origin(const RequestHeader& request, const Config& config);
bool preflight(const RequestHeader& request);
std::variant<Admitted, Refused> key(const RequestHeader& request, Route route, const AdmissionContext& context);
}  // namespace admission

}  // namespace sluice
