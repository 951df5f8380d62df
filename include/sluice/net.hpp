// net: the socket types of an event loop. Bound to the io_context's own executor type (not the
// type-erased any_io_executor), so every operation on the relay path dispatches without a
// virtual call or an executor copy.
#pragma once

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/basic_stream.hpp>

namespace sluice {

using LoopExecutor = boost::asio::io_context::executor_type;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, LoopExecutor>;
using Acceptor = boost::asio::basic_socket_acceptor<boost::asio::ip::tcp, LoopExecutor>;
// A socket with Beast's per-operation timeouts, for the phases that have deadlines.
using Stream = boost::beast::basic_stream<boost::asio::ip::tcp, LoopExecutor>;

}  // namespace sluice
