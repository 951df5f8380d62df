// response_head_fuzz: libFuzzer target for the head of Ollama's response, as the relay reads it:
// Beast's response parser with the relay's upstream header limit, then every field copied into
// the response sluice writes to its client (the relay's header copy, which is private to it).
//
// Nothing is caught: whatever throws here would escape the relay's completion handler and abort
// sluice, so for any bytes a misbehaving Ollama sends, parsing fails with an error_code or the
// head is copied.
// Build, run and the long run: tests/fuzz/README.md.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include <cstdint>
#include <cstdlib>

namespace http = boost::beast::http;

namespace {

// The relay's limit on Ollama's response head (max_upstream_header_bytes in src/relay.cpp).
constexpr std::uint32_t upstream_header_limit = 64 * 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    http::response_parser<http::buffer_body> parser;
    parser.header_limit(upstream_header_limit);
    parser.body_limit(boost::none);
    parser.eager(false);
    boost::beast::error_code ec;
    parser.put(boost::asio::buffer(data, size), ec);
    if (ec || !parser.is_header_done()) return 0;

    const auto& in = parser.get();
    http::response<http::empty_body> out;
    out.result(in.result_int());
    for (const auto& field : in) out.insert(field.name_string(), field.value());
    if (std::distance(out.begin(), out.end()) != std::distance(in.begin(), in.end())) std::abort();
    return 0;
}
