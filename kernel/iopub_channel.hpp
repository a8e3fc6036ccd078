#pragma once
// Publishing on IOPub from any thread.
//
// xeus 2.4 publishes through the shell thread's PUB socket and reads the current parent header
// without a lock: calling display_data or publish_stream from another thread crashes (ZeroMQ
// sockets are not thread-safe) or attaches the message to the wrong cell. This channel is a
// PUB socket of its own, connected to the endpoint xeus' publisher thread listens on, that
// signs with the connection's key and sends under a mutex. The caller says which request the
// message answers (a parent header captured while that cell ran). Each message's topic carries
// a sequence number, so the kernel can tell when it has come out (IOPubEcho).
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "xeus/xauthentication.hpp"
#include "xeus/xkernel_configuration.hpp"

namespace treadle::kernel {

class IOPubChannel {
 public:
  // Connect at start-up, before anything is published: a PUB socket that connects late drops
  // its first messages (ZeroMQ's slow joiner).
  IOPubChannel(zmq::context_t& context, const xeus::xconfiguration& config);
  IOPubChannel(const IOPubChannel&) = delete;
  IOPubChannel& operator=(const IOPubChannel&) = delete;

  // Thread-safe. Invalid UTF-8 in the content is replaced, never thrown.
  void publish(const std::string& msg_type, nlohmann::json content, nlohmann::json parent_header,
               nlohmann::json metadata = nlohmann::json::object());
  // The sequence number of the last message published (0: none yet); thread-safe.
  std::uint64_t last_sent();
  static constexpr const char* topic_prefix = "treadle.";

 private:
  std::mutex mutex_;
  zmq::socket_t socket_;
  std::unique_ptr<xeus::xauthentication> auth_;
  std::string user_;
  std::string session_;
  std::uint64_t sent_ = 0;
};

}  // namespace treadle::kernel
