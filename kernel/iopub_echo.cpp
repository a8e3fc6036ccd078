#include "iopub_echo.hpp"

#include <cstdlib>

namespace treadle::kernel {

namespace {
std::string endpoint(const xeus::xconfiguration& config) {
  std::string ip = config.m_ip;
  if (ip.empty() || ip == "0.0.0.0" || ip == "*") ip = "127.0.0.1";  // bound on every address: reach it here
  if (ip == "::") ip = "::1";
  if (ip.find(':') != std::string::npos && ip.front() != '[') ip = "[" + ip + "]";
  const char* separator = config.m_transport == "ipc" ? "-" : ":";
  return config.m_transport + "://" + ip + separator + config.m_iopub_port;
}
constexpr std::chrono::milliseconds unheard_limit{100};
}  // namespace

IOPubEcho::IOPubEcho(zmq::context_t& context, const xeus::xconfiguration& config, const std::string& topic_prefix)
    : socket_(context, zmq::socket_type::sub), prefix_(topic_prefix) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::subscribe, prefix_);
  try {
    if (config.m_ip.find(':') != std::string::npos) socket_.set(zmq::sockopt::ipv6, 1);
    socket_.connect(endpoint(config));
  } catch (const zmq::error_t&) {
    stopping_ = true;  // an address we cannot reach: no echo; waits end at once
    socket_.close();
    return;
  }
  thread_ = std::thread(&IOPubEcho::listen, this);
}

IOPubEcho::~IOPubEcho() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void IOPubEcho::listen() {
  try {
    zmq::message_t part;
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) break;
      }
      zmq::pollitem_t item{static_cast<void*>(socket_), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) <= 0) continue;
      // A message's first part is its topic: "<prefix><seq>.<msg_type>".
      if (!socket_.recv(part, zmq::recv_flags::none)) continue;
      std::string topic = part.to_string();
      while (part.more() && socket_.recv(part, zmq::recv_flags::none)) {
      }
      if (topic.compare(0, prefix_.size(), prefix_) != 0) continue;
      std::uint64_t seq = std::strtoull(topic.c_str() + prefix_.size(), nullptr, 10);
      std::lock_guard<std::mutex> lock(mutex_);
      if (seq > seen_) seen_ = seq;
      heard_any_ = true;
      heard_.notify_all();
    }
  } catch (const zmq::error_t&) {
    // The context is ending: the kernel is shutting down.
  }
  socket_.close();
}

bool IOPubEcho::wait_for(std::uint64_t seq, std::chrono::milliseconds limit) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopping_) return false;
  if (!heard_any_) limit = std::min(limit, std::chrono::duration_cast<std::chrono::milliseconds>(unheard_limit));
  return heard_.wait_for(lock, limit, [&] { return seen_ >= seq || stopping_; }) && seen_ >= seq;
}

}  // namespace treadle::kernel
