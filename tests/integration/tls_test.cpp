// Integration tests of HTTPS and WSS: real TLS clients (Beast over OpenSSL, verifying the
// certificate `sluice cert` makes against its CA, and curl) through sluice to the fake Ollama;
// plain HTTP on the TLS port; hostile handshakes; certificates renewed by a reload.
#include "child_process.hpp"
#include "ports.hpp"
#include "sluice_under_test.hpp"
#include "ws_client.hpp"

#include "sluice/access_control.hpp"
#include "sluice/tls_cert.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

namespace sluice::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using namespace std::chrono_literals;

constexpr std::string_view chat_body = R"({"model":"qwen3:14b","messages":[{"role":"user","content":"Hi"}]})";

// The fake Ollama's whole reply to chat_body: 8 token lines and the statistics line, in order.
void expect_whole_chat(std::string_view lines) {
    EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 9) << lines;
    EXPECT_LT(lines.find("tok0 "), lines.find("tok7 ")) << lines;
    EXPECT_NE(lines.find(R"("done":true)"), std::string_view::npos) << lines;
}

// A directory of `sluice cert` files for localhost and 127.0.0.1, removed with the object.
struct CertDir {
    explicit CertDir(std::string_view tag) {
        dir = std::filesystem::temp_directory_path() / fmt::format("sluice-tls-{}-{}", ::getpid(), tag);
        std::filesystem::remove_all(dir);
        files = make_certificate({dir, {"localhost"}, {"127.0.0.1"}, 30});
    }
    ~CertDir() { std::filesystem::remove_all(dir); }
    std::string yaml() const { return fmt::format("tls:\n  cert: {}\n  key: {}\n", files.cert.string(), files.key.string()); }

    std::filesystem::path dir;
    CertFiles files;
};

// A blocking HTTPS client that trusts only `ca` and checks the server's name, as curl would.
class TlsClient {
public:
    TlsClient(std::uint16_t port, const std::filesystem::path& ca, std::string_view host = "localhost")
        : context_(ssl::context::tls_client), stream_(io_, context_) {
        context_.load_verify_file(ca.string());
        stream_.set_verify_mode(ssl::verify_peer);  // the stream's own: it was made before this line
        stream_.set_verify_callback(ssl::host_name_verification(std::string(host)));
        SSL_set_tlsext_host_name(stream_.native_handle(), std::string(host).c_str());
        beast::get_lowest_layer(stream_).expires_after(10s);
        beast::get_lowest_layer(stream_).connect({asio::ip::make_address("127.0.0.1"), port});
        stream_.handshake(ssl::stream_base::client, handshake_error_);
    }
    const beast::error_code& handshake_error() const { return handshake_error_; }

    http::response<http::string_body> request(http::verb method, std::string_view target, std::string_view body = {},
                                              std::string_view authorization = {}) {
        http::request<http::string_body> request{method, target, 11};
        request.set(http::field::host, "localhost");
        if (!authorization.empty()) request.set(http::field::authorization, authorization);
        if (!body.empty() || method == http::verb::post) {
            request.body() = body;
            request.prepare_payload();
        }
        beast::get_lowest_layer(stream_).expires_after(10s);
        http::write(stream_, request);
        http::response<http::string_body> response;
        http::read(stream_, buffer_, response);
        return response;
    }
    void send_request_head(std::string_view target, std::string_view body) {
        http::request<http::string_body> request{http::verb::post, target, 11};
        request.set(http::field::host, "localhost");
        request.body() = body;
        request.prepare_payload();
        http::write(stream_, request);
    }
    // The response header, and the first body bytes.
    std::string read_some() {
        std::array<char, 4096> bytes{};
        return {bytes.data(), stream_.read_some(asio::buffer(bytes))};
    }
    void drop() { beast::get_lowest_layer(stream_).close(); }

private:
    asio::io_context io_;
    ssl::context context_;
    beast::ssl_stream<beast::tcp_stream> stream_;
    beast::flat_buffer buffer_;
    beast::error_code handshake_error_;
};

class TlsTest : public SluiceUnderTest {
protected:
    void start_tls(std::string_view more_yaml = {}) { start_yaml(fmt::format("{}{}", certs.yaml(), more_yaml)); }
    CertDir certs{"main"};
};

TEST_F(TlsTest, AStreamedChatComesThroughHttpsByteForByte) {
    start_tls();
    TlsClient client(port(), certs.files.ca_cert);
    ASSERT_FALSE(client.handshake_error()) << client.handshake_error().message();
    const auto response = client.request(http::verb::post, "/api/chat", chat_body);
    EXPECT_EQ(response.result_int(), 200u);
    expect_whole_chat(response.body());
    // Ollama hears how the client reached sluice; the same connection serves the next request.
    EXPECT_EQ(ollama.last_request().header("X-Forwarded-Proto"), "https");
    EXPECT_EQ(client.request(http::verb::get, "/api/tags").result_int(), 200u);
}

TEST_F(TlsTest, TheCertificateNamesTheMachineAndAnUntrustingClientFails) {
    start_tls();
    EXPECT_FALSE(TlsClient(port(), certs.files.ca_cert, "localhost").handshake_error());
    const CertDir other("other");  // another CA: a client that trusts only it refuses sluice's certificate
    EXPECT_TRUE(TlsClient(port(), other.files.ca_cert, "localhost").handshake_error());
    EXPECT_TRUE(TlsClient(port(), certs.files.ca_cert, "gpu-box.lan").handshake_error());  // a name it does not carry
    EXPECT_EQ(request("GET", "/healthz").status, 307u);  // sluice still serves
}

TEST_F(TlsTest, PlainHttpOnTheTlsPortIsRedirectedToTheSameUrlWithHttps) {
    start_tls();
    TestClient client(port());
    const auto response = client.request("POST", "/api/chat?x=1", chat_body, {{"Host", "gpu-box.lan:8443"}});
    EXPECT_EQ(response.status, 307u);
    EXPECT_EQ(response.header("Location"), "https://gpu-box.lan:8443/api/chat?x=1");
    EXPECT_EQ(response.body, R"({"error":"sluice: this port speaks HTTPS: use https://gpu-box.lan:8443/api/chat?x=1"})");
    EXPECT_TRUE(client.wait_closed(2s));
    EXPECT_EQ(ollama.requests().size(), 0u);  // nothing went to Ollama in clear

    TestClient bad_host(port());
    EXPECT_EQ(bad_host.request("GET", "/", {}, {{"Host", "evil.example/x"}}).status, 400u);
}

TEST_F(TlsTest, TheSessionCookieIsSecureOverTls) {
    const auto key = generate_api_key();
    start_tls(fmt::format("auth:\n  keys:\n    - name: laptop\n      hash: \"{}\"\n", hash_api_key(key)));
    TlsClient client(port(), certs.files.ca_cert);
    const auto response = client.request(http::verb::post, "/_sluice/login", {}, "Bearer " + key);
    EXPECT_EQ(response.result_int(), 200u);
    const std::string cookie(response[http::field::set_cookie]);
    EXPECT_NE(cookie.find("; Secure"), std::string::npos) << cookie;
    EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
}

TEST_F(TlsTest, AClientThatLeavesMidStreamStopsOllamaOverTlsToo) {
    ollama.set_knobs({.token_interval = 20ms, .tokens = 500});
    start_tls();
    TlsClient client(port(), certs.files.ca_cert);
    client.send_request_head("/api/chat", chat_body);
    EXPECT_NE(client.read_some().find("200 OK"), std::string::npos);
    client.drop();
    EXPECT_TRUE(ollama.wait_streams_cancelled(1, 5s));
}

// A TLS client that never reads: the relay's writes stall in the TLS layer as they do on a plain
// socket, so Ollama is pushed back, and timeouts.client_send ends the exchange and its stream.
TEST_F(TlsTest, AClientThatNeverReadsIsCutAfterTheSendTimeoutAndOllamaStops) {
    ollama.set_knobs({.token_interval = 0us, .tokens = 400000});
    start_tls("timeouts: {client_send: 1s}\n");
    TlsClient client(port(), certs.files.ca_cert);
    client.send_request_head("/api/chat", chat_body);
    ollama.wait_production_stalled(30s);
    EXPECT_TRUE(ollama.wait_streams_cancelled(1, 10s));
    EXPECT_EQ(TlsClient(port(), certs.files.ca_cert).request(http::verb::get, "/api/version").result_int(), 200u);
}

TEST_F(TlsTest, WssCarriesThePagesChat) {
    start_tls();
    asio::io_context io;
    ssl::context context(ssl::context::tls_client);
    context.load_verify_file(certs.files.ca_cert.string());
    context.set_verify_mode(ssl::verify_peer);  // before the stream is made, which copies it
    websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(io, context);
    beast::get_lowest_layer(ws).expires_after(10s);
    beast::get_lowest_layer(ws).connect({asio::ip::make_address("127.0.0.1"), port()});
    ws.next_layer().handshake(ssl::stream_base::client);
    beast::get_lowest_layer(ws).expires_never();
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws.set_option(websocket::stream_base::decorator(
        [port = port()](websocket::request_type& request) { request.set(http::field::origin, fmt::format("https://localhost:{}", port)); }));
    ws.handshake(fmt::format("localhost:{}", port()), "/_sluice/ws");
    ws.text(true);
    ws.write(asio::buffer(fmt::format(R"({{"id":"c1","chat":{}}})", chat_body)));
    std::string lines;
    for (;;) {
        beast::flat_buffer buffer;
        ws.read(buffer);
        const auto frame = beast::buffers_to_string(buffer.data());
        if (frame.find(R"("done":true)") != std::string::npos && frame.find(R"("line")") == std::string::npos) {
            EXPECT_NE(frame.find(R"("status":200)"), std::string::npos) << frame;
            break;
        }
        lines += parse_ws_frame(frame).line + "\n";
    }
    expect_whole_chat(lines);
    EXPECT_EQ(ollama.last_request().header("X-Forwarded-Proto"), "https");
    ws.close(websocket::close_code::normal);
}

TEST_F(TlsTest, CurlGetsTheStreamOverHttpsTrustingOnlyTheCa) {
    start_tls();
    const auto output = std::filesystem::temp_directory_path() / fmt::format("sluice-curl-{}.out", ::getpid());
    ChildProcess curl({"/usr/bin/curl", "-sS", "--cacert", certs.files.ca_cert.string(), "-o", output.string(), "-d",
                       std::string(chat_body), fmt::format("https://localhost:{}/api/chat", port())});
    ASSERT_EQ(curl.wait_exit(10s), 0);
    std::ifstream file(output);
    const std::string body{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    std::filesystem::remove(output);
    expect_whole_chat(body);
}

// --- hostile clients ---------------------------------------------------------------------------

TEST_F(TlsTest, GarbageAfterATlsRecordHeaderIsClosedAndSluiceGoesOn) {
    start_tls();
    TestClient garbage(port());
    garbage.send_raw(std::string("\x16\x03\x01\x00\x40", 5) + std::string(64, 'A'));
    EXPECT_TRUE(garbage.wait_closed(5s));
    TlsClient client(port(), certs.files.ca_cert);
    EXPECT_EQ(client.request(http::verb::get, "/healthz").result_int(), 200u);
}

TEST_F(TlsTest, AClientSilentBeforeOrDuringTheHandshakeIsClosedAfterTheHeaderTimeout) {
    start_tls("timeouts:\n  client_header: 300ms\n");
    TestClient silent(port());
    EXPECT_TRUE(silent.wait_closed(3s));
    TestClient half_hello(port());
    half_hello.send_raw(std::string("\x16\x03\x01\x02\x00\x01", 6));  // a ClientHello that never ends
    EXPECT_TRUE(half_hello.wait_closed(3s));
}

// --- config and reload -------------------------------------------------------------------------

TEST_F(TlsTest, ConfigErrorsNameTheFileAndWhatIsWrong) {
    const auto error_of = [](const std::string& yaml) {
        try {
            parse_config(yaml, "sluice.yaml");
        } catch (const ConfigError& error) {
            return std::string(error.what());
        }
        return std::string("no error");
    };
    const auto cert = certs.files.cert.string();
    const auto key = certs.files.key.string();
    EXPECT_EQ(error_of(fmt::format("tls:\n  cert: {}\n", cert)),
              "sluice.yaml:2: tls: needs both cert and key: PEM files (`sluice cert` makes a pair for this machine)");
    EXPECT_EQ(error_of(fmt::format("tls:\n  cert: /nonexistent/x.crt\n  key: {}\n", key)),
              "sluice.yaml:2: tls: tls.cert: cannot read /nonexistent/x.crt: No such file or directory");
    EXPECT_NE(error_of(fmt::format("tls:\n  cert: {}\n  key: {}\n", key, key)).find("holds no usable PEM certificate"),
              std::string::npos);
    const CertDir other("mismatch");
    EXPECT_EQ(error_of(fmt::format("tls:\n  cert: {}\n  key: {}\n", cert, other.files.key.string())),
              fmt::format("sluice.yaml:2: tls: tls.key: {} is not the key of the certificate in {}",
                          other.files.key.string(), cert));
}

TEST_F(TlsTest, AReloadServesARenewedCertificateToNewConnections) {
    start_tls();
    TlsClient before(port(), certs.files.ca_cert);
    ASSERT_FALSE(before.handshake_error());
    const CertDir renewed("renewed");  // a new CA stands in for a renewal: only it verifies the new certificate
    server->reload(local(parse_config(renewed.yaml(), "sluice.yaml")));
    EXPECT_FALSE(TlsClient(port(), renewed.files.ca_cert).handshake_error());
    EXPECT_TRUE(TlsClient(port(), certs.files.ca_cert).handshake_error());
    EXPECT_EQ(before.request(http::verb::get, "/healthz").result_int(), 200u);  // an open connection goes on
}

// SIGHUP with a key that cannot be read: the reload is refused and says why; HTTPS goes on with
// the certificate in force.
TEST_F(TlsTest, AReloadThatCannotReadTheKeyKeepsTheOldCertificateAndSaysWhy) {
    const auto port = closed_loopback_port();
    const auto config_path = certs.dir / "sluice.yaml";
    const auto log_path = certs.dir / "sluice.log";
    std::ofstream(config_path) << fmt::format("listen: 127.0.0.1:{}\n", port) << certs.yaml();
    ChildProcess sluice({SLUICE_BINARY, "--config", config_path.string(), "--upstream", ollama.url()}, {},
                        log_path.string());
    ASSERT_TRUE(connect_when_listening(port, 10s));
    const auto moved = certs.dir / "moved.key";
    std::filesystem::rename(certs.files.key, moved);
    sluice.signal(SIGHUP);
    std::string log;
    for (const auto deadline = Clock::now() + 5s; Clock::now() < deadline && log.find("reload refused") == std::string::npos;) {
        std::this_thread::sleep_for(50ms);
        std::ifstream file(log_path);
        log.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    }
    EXPECT_NE(log.find(fmt::format("reload refused, the running config stays: {}:3: tls: tls.key: cannot read {}: No such "
                                   "file or directory",
                                   config_path.string(), certs.files.key.string())),
              std::string::npos)
        << log;
    TlsClient client(port, certs.files.ca_cert);
    EXPECT_EQ(client.request(http::verb::get, "/healthz").result_int(), 200u);
}

}  // namespace
}  // namespace sluice::test
