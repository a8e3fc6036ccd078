#include "iopub_channel.hpp"

#include "xeus/xguid.hpp"
#include "xeus/xkernel.hpp"
#include "xeus/xmessage.hpp"
#include "xeus/xmiddleware.hpp"
#include "xeus/xzmq_serializer.hpp"

namespace treadle::kernel {

IOPubChannel::IOPubChannel(zmq::context_t& context, const xeus::xconfiguration& config)
    : socket_(context, zmq::socket_type::pub),
      auth_(xeus::make_xauthentication(config.m_signature_scheme, config.m_key)),
      user_(xeus::get_user_name()),
      session_(xeus::new_xguid().c_str()) {
  socket_.set(zmq::sockopt::linger, xeus::get_socket_linger());
  socket_.connect(xeus::get_publisher_end_point());
}

void IOPubChannel::publish(const std::string& msg_type, nlohmann::json content, nlohmann::json parent_header,
                           nlohmann::json metadata) {
  // Numbered and sent under one lock: the numbers come out in order.
  std::lock_guard<std::mutex> lock(mutex_);
  xeus::xpub_message message(topic_prefix + std::to_string(sent_ + 1) + "." + msg_type,
                             xeus::make_header(msg_type, user_, session_), std::move(parent_header),
                             std::move(metadata), std::move(content), xeus::buffer_sequence());
  zmq::multipart_t wire =
      xeus::xzmq_serializer::serialize_iopub(std::move(message), *auth_, nlohmann::json::error_handler_t::replace);
  wire.send(socket_);
  ++sent_;
}

std::uint64_t IOPubChannel::last_sent() {
  std::lock_guard<std::mutex> lock(mutex_);
  return sent_;
}

}  // namespace treadle::kernel
