// body_tap: a Beast Body that only looks at a response body as the parser finds it.
//
// sluice forwards the bytes it reads from Ollama as they are, chunk framing included; Beast's
// parser runs over the same bytes only to find where the body ends. Through this Body the
// parser shows sluice the de-chunked pieces without copying them anywhere: the tail of a
// generation (for its statistics) and, for an HTTP/1.0 client that cannot take chunks, the
// pieces to write instead of the raw bytes. A model list a key sees filtered is the one body
// copied whole.
#pragma once

#include "sluice/access_log.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>

#include <string>
#include <vector>

namespace sluice {

struct BodyTap {
    struct value_type {
        StreamTail* tail = nullptr;                              // keeps the last bytes, if set
        std::vector<boost::asio::const_buffer>* pieces = nullptr;  // collects the pieces, if set
        std::string* whole = nullptr;                            // appends the body, if set (the caller bounds it)
    };

    class reader {
    public:
        template <bool isRequest, class Fields>
        reader(boost::beast::http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

        void init(const boost::optional<std::uint64_t>&, boost::system::error_code& ec) { ec = {}; }

        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
            ec = {};
            std::size_t size = 0;
            for (const auto buffer : boost::beast::buffers_range_ref(buffers)) {
                if (body_.tail) body_.tail->append({static_cast<const char*>(buffer.data()), buffer.size()});
                if (body_.pieces) body_.pieces->push_back(buffer);
                if (body_.whole) body_.whole->append(static_cast<const char*>(buffer.data()), buffer.size());
                size += buffer.size();
            }
            return size;
        }

        void finish(boost::system::error_code& ec) { ec = {}; }

    private:
        value_type& body_;
    };
};

}  // namespace sluice
