// The worker reads executors' replies a bounded amount per call (worker/reply_reader.hpp), and
// a large blob straight into storage of its own: fed here through a real non-blocking pipe by
// a writer thread, in the executor's framing (python/treadle/runtime/pipe.py).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "worker/reply_reader.hpp"

using namespace treadle;

namespace {

template <typename T>
void append_le(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

std::string frame(const std::string& head, const std::vector<std::string>& blobs) {
  std::string out;
  append_le<std::uint32_t>(out, static_cast<std::uint32_t>(head.size()));
  out += head;
  append_le<std::uint32_t>(out, static_cast<std::uint32_t>(blobs.size()));
  for (auto& b : blobs) {
    append_le<std::uint64_t>(out, b.size());
    out += b;
  }
  return out;
}

struct Received {
  std::string head;
  std::vector<std::string> blobs;
  std::vector<const char*> storage;  // where each blob's object keeps its bytes
};

// Writes `bytes` into a pipe from a thread and reads it with `reader`, `budget` per call, as
// the worker's loop does (poll, read, take the messages); checks no call reads past its budget
// by more than one pipe's worth.
std::vector<Received> pump(ReplyReader& reader, const std::string& bytes, std::size_t budget) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  std::thread writer([&] {
    for (std::size_t at = 0; at < bytes.size();) {
      const ssize_t n = ::write(fds[1], bytes.data() + at, bytes.size() - at);
      if (n > 0) at += static_cast<std::size_t>(n);
    }
    ::close(fds[1]);
  });
  std::vector<Received> out;
  ReplyMessage message;
  for (bool open = true; open;) {
    pollfd p{fds[0], POLLIN, 0};
    ::poll(&p, 1, 1000);
    const ReplyReader::ReadResult read = reader.read(fds[0], budget);
    CHECK(read.bytes <= budget + 65536);
    while (reader.next(message)) {
      Received r;
      r.head = std::string(message.head());
      for (std::size_t i = 0; i < message.blob_count(); ++i) {
        DataPtr d = message.plain(i);
        r.blobs.emplace_back(d->raw());
        r.storage.push_back(d->raw().data());
      }
      out.push_back(std::move(r));
    }
    open = !read.closed;
  }
  writer.join();
  ::close(fds[0]);
  return out;
}

std::string pattern(std::size_t size, char seed) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>(seed + i * 7 % 251);
  return s;
}

}  // namespace

TEST_CASE("reply reader: small replies come whole, several per read, in order") {
  std::string bytes;
  for (int i = 0; i < 500; ++i) bytes += frame("{\"id\":" + std::to_string(i) + "}", {std::string(i % 7, 'x')});
  bytes += frame("{\"op\":\"ready\"}", {});
  ReplyReader reader;
  auto got = pump(reader, bytes, 8 << 20);
  REQUIRE(got.size() == 501);
  for (int i = 0; i < 500; ++i) {
    CHECK(got[i].head == "{\"id\":" + std::to_string(i) + "}");
    REQUIRE(got[i].blobs.size() == 1);
    CHECK(got[i].blobs[0] == std::string(i % 7, 'x'));
  }
  CHECK(got[500].blobs.empty());
  CHECK(reader.buffered() == 0);
}

TEST_CASE("reply reader: a large blob is read into storage of its own, a bounded amount per call") {
  const std::string big = pattern(24 << 20, 3), small = pattern(1000, 5), after = pattern(70000, 9);
  std::vector<std::size_t> asked;
  std::vector<const char*> given;
  ReplyReader reader([&](std::size_t size) {
    asked.push_back(size);
    ReplyReader::Storage s = ReplyReader::heap_storage(size);
    given.push_back(s.bytes);
    return s;
  });
  std::string bytes = frame("{\"first\":1}", {small, big, after});
  bytes += frame("{\"next\":2}", {"z"});
  auto got = pump(reader, bytes, 1 << 20);
  REQUIRE(got.size() == 2);
  CHECK(got[0].head == "{\"first\":1}");
  REQUIRE(got[0].blobs.size() == 3);
  CHECK(got[0].blobs[0] == small);
  CHECK(got[0].blobs[1] == big);
  CHECK(got[0].blobs[2] == after);
  // The large blob's storage was made once, of its exact size, and is the object's bytes.
  REQUIRE(asked == std::vector<std::size_t>{big.size()});
  CHECK(got[0].storage[1] == given[0]);
  CHECK(got[1].head == "{\"next\":2}");
  CHECK(got[1].blobs == std::vector<std::string>{"z"});
}

TEST_CASE("reply reader: a message of many small blobs does not wait whole in the read buffer") {
  std::vector<std::string> blobs;
  for (int i = 0; i < 4000; ++i) blobs.push_back(pattern(1500 + i % 100, static_cast<char>(i)));
  ReplyReader reader;
  auto got = pump(reader, frame("{\"many\":true}", blobs) + frame("{}", {}), 256 << 10);
  REQUIRE(got.size() == 2);
  CHECK(got[0].head == "{\"many\":true}");
  CHECK(got[0].blobs == blobs);
  CHECK(got[1].head == "{}");
}

TEST_CASE("reply reader: storage that cannot be made is an error of that read, not a crash") {
  ReplyReader reader([](std::size_t) -> ReplyReader::Storage { throw std::bad_alloc(); });
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
  std::string bytes = frame("{\"op\":\"done\"}", {});
  // Then a message announcing a blob of 1 TiB.
  std::string head = "{\"big\":1}";
  std::string big_start;
  append_le<std::uint32_t>(big_start, static_cast<std::uint32_t>(head.size()));
  big_start += head;
  append_le<std::uint32_t>(big_start, 1);
  append_le<std::uint64_t>(big_start, std::uint64_t{1} << 40);
  bytes += big_start;
  REQUIRE(::write(fds[1], bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  reader.read(fds[0], 1 << 20);
  ReplyMessage message;
  REQUIRE(reader.next(message));
  CHECK(message.head() == "{\"op\":\"done\"}");
  CHECK_THROWS_AS(reader.next(message), std::bad_alloc);
  ::close(fds[0]);
  ::close(fds[1]);
}
