// ws_chat: drives the browser page's WebSocket (/_sluice/ws) the way the page does, for the
// allocation measurement (bench/heap.sh): CHATS chats one after another on one socket, each
// read to its end frame. Prints the frames received; exits non-zero on an error frame.
// Like the other tools here it uses nothing of sluice's own code.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <cstdio>
#include <exception>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: sluice_ws_chat PORT CHATS   (sluice on 127.0.0.1:PORT)\n");
        return 2;
    }
    try {
        const std::string port = argv[1];
        const int chats = std::stoi(argv[2]);
        asio::io_context io;
        websocket::stream<asio::ip::tcp::socket> ws(io);
        asio::connect(ws.next_layer(), asio::ip::tcp::resolver(io).resolve("127.0.0.1", port));
        ws.handshake("localhost:" + port, "/_sluice/ws");
        long frames = 0;
        beast::flat_buffer buffer;
        for (int i = 0; i < chats; ++i) {
            const std::string id = "c" + std::to_string(i);
            ws.write(asio::buffer(R"({"id":")" + id +
                                  R"(","chat":{"model":"qwen3:14b","messages":[{"role":"user","content":"hi"}]}})"));
            for (;;) {
                buffer.clear();
                ws.read(buffer);
                ++frames;
                const auto text = beast::buffers_to_string(buffer.data());
                if (text.starts_with(R"({"id":")" + id + R"(","error")")) {
                    std::fprintf(stderr, "ws_chat: %s\n", text.c_str());
                    return 1;
                }
                if (text.starts_with(R"({"id":")" + id + R"(","done":true)")) break;
            }
        }
        std::printf("frames %ld\n", frames);
        ws.close(websocket::close_code::normal);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "ws_chat: %s\n", error.what());
        return 1;
    }
}
