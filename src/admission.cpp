// admission: the header checks, in design.md's order.
#include "sluice/admission.hpp"

#include "sluice/request_target.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <fmt/format.h>

namespace sluice {

namespace beast = boost::beast;
namespace http = beast::http;

namespace admission {

std::optional<Refused> draining(const AdmissionContext& context) {
    if (!context.draining) return std::nullopt;
    return Refused{503, "sluice: shutting down", true};
}

// RFC 9112 6.1, 6.3, 3.2. A body framed by a Transfer-Encoding whose last coding is not chunked
// (or one that lists chunked twice, or on HTTP/1.0) has no end a proxy could agree on with
// Ollama: its bytes could be read as a second request (smuggling). A request without one Host
// cannot be checked against this machine's names.
std::optional<Refused> framing(const RequestHeader& request) {
    if (request.count(http::field::transfer_encoding) != 0) {
        std::size_t chunked = 0;
        std::string_view last;
        const auto [first, end] = request.equal_range(http::field::transfer_encoding);
        for (auto field = first; field != end; ++field) {
            for (const auto coding : http::token_list{field->value()}) {
                last = coding;
                if (beast::iequals(coding, "chunked")) ++chunked;
            }
        }
        if (request.version() < 11 || chunked != 1 || !beast::iequals(last, "chunked")) {
            return Refused{400, "sluice: a request body's Transfer-Encoding must end in chunked (once), on HTTP/1.1", true};
        }
    }
    const auto hosts = request.count(http::field::host);
    if (hosts > 1) return Refused{400, "sluice: the request has more than one Host header", true};
    if (hosts == 0 && request.version() >= 11) return Refused{400, "sluice: an HTTP/1.1 request needs a Host header", true};
    return std::nullopt;
}

std::optional<Refused> target(RequestHeader& request) {
    auto normalized = normalize_target(request.target());
    if (auto* error = std::get_if<TargetError>(&normalized)) {
        return Refused{request.method() == http::verb::connect ? 405u : 400u, std::move(error->message), true};
    }
    request.target(std::get<std::string>(normalized));
    return std::nullopt;
}

// On loopback sluice answers only requests addressed to this machine, as Ollama would.
std::optional<Refused> host(const RequestHeader& request, const AdmissionContext& context) {
    const auto host = request[http::field::host];
    if (!context.local_names || context.local_names->contains(host)) return std::nullopt;
    return Refused{403,
                   fmt::format("sluice: Host {} is not this machine; listening on loopback, sluice answers only "
                               "local names (against DNS rebinding)",
                               host),
                   true};
}

Route route(const RequestHeader& request, const Config& config) {
    return route_request(request.method_string(), request.target(), request[http::field::accept],
                         {config.health.healthz, config.health.readyz}, config.metrics.path);
}

// A browser names the page's origin; a page of another site must not drive this Ollama with
// the user's network position (and cookie). Allowed origins are sluice's decision alone.
std::optional<Refused> origin(const RequestHeader& request, const Config& config) {
    const auto origin = request[http::field::origin];
    if (origin.empty() || origin_allowed(config.cors, origin, request[http::field::host])) return std::nullopt;
    return Refused{403, fmt::format("sluice: requests from origin {} are refused (cors.allowed_origins)", origin)};
}

bool preflight(const RequestHeader& request) {
    return request.method() == http::verb::options && request.count(http::field::access_control_request_method) != 0;
}

// The page, its login and the probes are public: the page asks for a key when sluice wants
// one. Everything else needs a key that may use the route; the WebSocket only runs chats, so
// a key that may chat may open it.
std::variant<Admitted, Refused> key(const RequestHeader& request, Route route, const AdmissionContext& context) {
    switch (route.handler) {
    case Handler::healthz:
    case Handler::readyz:
    case Handler::ui_asset:
    case Handler::login:
    case Handler::logout:
        return Admitted{route, nullptr, {}};
    case Handler::proxy:
    case Handler::websocket:
    case Handler::metrics:
    case Handler::page_api:
        break;
    }
    // The page's chat is checked as /api/chat; sluice's own API takes any key (an empty path).
    const auto path = route.handler == Handler::websocket ? std::string_view("/api/chat")
                      : route.handler == Handler::page_api ? std::string_view{}
                                                          : target_path(request.target());
    auto access = authorize(context.config.auth, context.sessions, path, request[http::field::authorization],
                            request[http::field::cookie]);
    if (access.status != 0) return Refused{access.status, std::move(access.message), false, access.key};
    return Admitted{route, access.key, access.session};
}

}  // namespace admission

Admission admit(RequestHeader& request, const AdmissionContext& context) {
    if (auto refused = admission::draining(context)) return std::move(*refused);
    if (auto refused = admission::framing(request)) return std::move(*refused);
    if (auto refused = admission::target(request)) return std::move(*refused);
    if (auto refused = admission::host(request, context)) return std::move(*refused);
    const auto route = admission::route(request, context.config);
    if (auto refused = admission::origin(request, context.config)) {
        refused->handler = route.handler;
        return std::move(*refused);
    }
    if (admission::preflight(request)) return Preflight{};
    auto keyed = admission::key(request, route, context);
    if (auto* refused = std::get_if<Refused>(&keyed)) {
        refused->handler = route.handler;
        return std::move(*refused);
    }
    return std::get<Admitted>(keyed);
}

}  // namespace sluice
