// The worker writes an executor's requests as its pipe takes them (worker/request_writer.hpp):
// a large input goes out a bounded amount per loop turn, so the loop heartbeats between turns
// while a slow executor reads it; here through a real non-blocking pipe, read by a thread.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "worker/request_writer.hpp"

using namespace treadle;

namespace {

struct Pipe {
  int read = -1, write = -1;
  Pipe() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    read = fds[0];
    write = fds[1];
    ::fcntl(write, F_SETFL, ::fcntl(write, F_GETFL) | O_NONBLOCK);
  }
  ~Pipe() {
    if (read >= 0) ::close(read);
    if (write >= 0) ::close(write);
  }
};

// A slow executor: reads a small piece at a time, yielding between reads, until EOF.
std::string read_slowly(int fd) {
  std::string got;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return got;
    got.append(buf, static_cast<std::size_t>(n));
    std::this_thread::yield();
  }
}

std::string pattern(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>(i % 251);
  return out;
}

}  // namespace

TEST_CASE("request writer: a large blob goes out over many loop turns, whole and in order") {
  Pipe pipe;
  std::string received;
  std::thread reader([&] { received = read_slowly(pipe.read); });

  auto blob = std::make_shared<const std::string>(pattern(24u << 20));
  std::weak_ptr<const std::string> watch = blob;
  RequestWriter writer;
  writer.append("first small request;");
  writer.append(*blob, blob);  // as it lies: the writer holds it until it is written
  writer.append("a request queued behind it;");
  blob.reset();

  const std::size_t budget = 1u << 20;
  std::size_t turns = 0, heartbeats = 0;
  for (;;) {
    // The worker's loop: poll for writability, write a bounded amount, heartbeat.
    pollfd p{pipe.write, POLLOUT, 0};
    REQUIRE(::poll(&p, 1, 30'000) == 1);
    const RequestWriter::WriteResult r = writer.write(pipe.write, budget);
    REQUIRE(r.bytes <= budget);
    ++turns;
    if (r.done) break;
    REQUIRE(writer.pending());
    ++heartbeats;  // reached with the blob still being written
  }
  CHECK(watch.expired());  // written: let go
  ::close(pipe.write);
  pipe.write = -1;
  reader.join();

  // At least one turn per budget's worth: the loop came back between them.
  CHECK(turns >= (24u << 20) / budget);
  CHECK(heartbeats + 1 == turns);
  REQUIRE(received.size() == 20 + (24u << 20) + 27);
  CHECK(received.compare(0, 20, "first small request;") == 0);
  CHECK(received.compare(20, 24u << 20, pattern(24u << 20)) == 0);
  CHECK(received.compare(20 + (24u << 20), 27, "a request queued behind it;") == 0);
}

TEST_CASE("request writer: small requests go out in one write") {
  Pipe pipe;
  RequestWriter writer;
  std::string& tail = writer.tail();
  tail += "run 1;";
  writer.append("run 2;");
  CHECK(writer.pending());
  const RequestWriter::WriteResult r = writer.write(pipe.write, 1u << 20);
  CHECK(r.done);
  CHECK(r.bytes == 12);
  CHECK_FALSE(writer.pending());
  char buf[64];
  REQUIRE(::read(pipe.read, buf, sizeof buf) == 12);
  CHECK(std::string(buf, 12) == "run 1;run 2;");
  CHECK(writer.write(pipe.write, 1u << 20).done);  // nothing to write: no error
}

TEST_CASE("request writer: a full pipe leaves the rest for later, a broken one throws") {
  Pipe pipe;
  RequestWriter writer;
  auto blob = std::make_shared<const std::string>(pattern(4u << 20));
  writer.append(*blob, blob);
  const RequestWriter::WriteResult r = writer.write(pipe.write, 64u << 20);  // nobody reads
  CHECK_FALSE(r.done);
  CHECK(r.bytes < (4u << 20));
  CHECK(writer.pending());
  ::close(pipe.read);
  pipe.read = -1;
  auto previous = ::signal(SIGPIPE, SIG_IGN);  // as the worker does: EPIPE, not death
  CHECK_THROWS_WITH(writer.write(pipe.write, 64u << 20), Catch::Contains("cannot write to the executor"));
  ::signal(SIGPIPE, previous);
  CHECK_FALSE(writer.pending());  // dropped: the executor is gone
  CHECK(blob.use_count() == 1);
}
