#pragma once
// Knowing that a message sent through the IOPubChannel has left the kernel.
//
// Two sockets feed xeus' publisher thread (the shell thread's and the IOPubChannel's), and
// ZeroMQ keeps no order between them: output a task printed, sent from a background thread,
// could reach the client after the `status: idle` the shell thread sends next, and clients that
// stop reading at idle (nbclient, jupyter_client's execute_interactive) lose it. So the kernel
// listens to its own IOPub port for the channel's messages (their topic carries a sequence
// number), and the shell thread waits until the last one it must stay behind came out.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "xeus/xkernel_configuration.hpp"

namespace treadle::kernel {

class IOPubEcho {
 public:
  // Subscribes at start-up, before anything is published (a late subscriber misses messages).
  IOPubEcho(zmq::context_t& context, const xeus::xconfiguration& config, const std::string& topic_prefix);
  ~IOPubEcho();
  IOPubEcho(const IOPubEcho&) = delete;
  IOPubEcho& operator=(const IOPubEcho&) = delete;

  // True once the channel's message `seq` (or a later one) came out on IOPub; false after
  // `limit`. Until a first echo was heard (an address this process might not reach), waits are
  // cut to a tenth of a second, so a kernel without its echo is slow to order, never stuck.
  bool wait_for(std::uint64_t seq, std::chrono::milliseconds limit);

 private:
  void listen();  // the echo's thread: reads the channel's messages as they come out
  zmq::socket_t socket_;
  std::string prefix_;
  std::mutex mutex_;
  std::condition_variable heard_;
  std::uint64_t seen_ = 0;
  bool heard_any_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace treadle::kernel
