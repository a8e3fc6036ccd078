// The worker reads a tiny task's reply by its fixed shape (worker/executor_reply.hpp), not as
// JSON. That shape is written by the executor (python/treadle/runtime/pipe.py, done_header): a
// captured sample could drift from it, so the replies checked here are made by a real executor
// (python3 -m treadle.executor, from the source tree) running real tasks over its pipes, as the
// worker drives it (engine/worker/executor_pool.cpp).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "worker/executor_reply.hpp"

extern char** environ;

using namespace treadle;

namespace {

struct Message {
  std::string header;
  std::vector<std::string> blobs;
};

// One executor process, its request pipe on its fd 3 and its reply pipe on its fd 4.
class RealExecutor {
 public:
  RealExecutor() {
    int req[2], rep[2], err[2];
    if (::pipe2(req, O_CLOEXEC) || ::pipe2(rep, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC | O_NONBLOCK))
      throw std::runtime_error("pipe2");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);  // end-of-task markers
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);                     // why, if it fails
    posix_spawn_file_actions_adddup2(&actions, req[0], 3);
    posix_spawn_file_actions_adddup2(&actions, rep[1], 4);
    std::vector<std::string> env = {"PYTHONPATH=" TREADLE_SOURCE_DIR "/python:" TREADLE_EXTENSION_DIR,
                                    "PYTHONDONTWRITEBYTECODE=1"};
    for (char** v = environ; *v; ++v)
      if (std::strncmp(*v, "PYTHONPATH=", 11) != 0) env.emplace_back(*v);
    std::vector<char*> envp;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string python = TREADLE_PYTHON, flag = "-m", module = "treadle.executor";
    std::vector<char*> argv = {python.data(), flag.data(), module.data(), nullptr};
    const int rc = ::posix_spawn(&pid_, python.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(req[0]);
    ::close(rep[1]);
    ::close(err[1]);
    requests_ = req[1];
    replies_ = rep[0];
    errors_ = err[0];
    if (rc != 0) throw std::runtime_error("cannot start " + python + ": " + std::strerror(rc));
  }

  ~RealExecutor() {
    ::close(requests_);
    ::close(replies_);
    ::close(errors_);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

  void send(const std::string& header, const std::vector<std::string>& blobs) {
    std::string m;
    append<std::uint32_t>(m, static_cast<std::uint32_t>(header.size()));
    m += header;
    append<std::uint32_t>(m, static_cast<std::uint32_t>(blobs.size()));
    for (auto& b : blobs) {
      append<std::uint64_t>(m, b.size());
      m += b;
    }
    REQUIRE(::write(requests_, m.data(), m.size()) == static_cast<ssize_t>(m.size()));
  }

  Message receive() {
    Message m;
    m.header = take(take_le<std::uint32_t>());
    for (auto count = take_le<std::uint32_t>(); count > 0; --count) m.blobs.push_back(take(take_le<std::uint64_t>()));
    return m;
  }

 private:
  template <typename T>
  static void append(std::string& out, T value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof value);
  }

  std::string take(std::size_t n) {
    std::string out;
    while (out.size() < n) {
      pollfd p{replies_, POLLIN, 0};
      if (::poll(&p, 1, 30'000) != 1) throw std::runtime_error("the executor did not answer within 30 s" + errors());
      char buf[4096];
      ssize_t got = ::read(replies_, buf, std::min(sizeof buf, n - out.size()));
      if (got <= 0) throw std::runtime_error("the executor closed its reply pipe" + errors());
      out.append(buf, static_cast<std::size_t>(got));
    }
    return out;
  }

  std::string errors() {  // what the executor wrote to its stderr (its end-of-task markers too)
    char buf[4096];
    ssize_t got = ::read(errors_, buf, sizeof buf);
    return got > 0 ? ": " + std::string(buf, static_cast<std::size_t>(got)) : std::string();
  }

  template <typename T>
  T take_le() {
    const std::string raw = take(sizeof(T));
    T value;
    std::memcpy(&value, raw.data(), sizeof value);
    return value;
  }

  pid_t pid_ = -1;
  int requests_ = -1, replies_ = -1, errors_ = -1;
};

// Pickles (protocol 0: text) of builtins and of the two kinds of py_call config.
const std::string pickled_abs = "cbuiltins\nabs\n.";
const std::string pickled_divmod = "cbuiltins\ndivmod\n.";
const std::string pickled_sorted = "cbuiltins\nsorted\n.";
const std::string pickled_bytes = "cbuiltins\nbytes\n.";
const std::string native_minus_seven = "(Vnative\n(I-7\nt(dt.";         // ("native", (-7,), {})
const std::string native_seven_two = "(Vnative\n(I7\nI2\nt(dt.";         // ("native", (7, 2), {})
const std::string native_three_items = "(Vnative\n((I3\nI1\nI2\ntt(dt.";  // ("native", ((3, 1, 2),), {})
const std::string loom_three = "(I00\n(I3\ntt.";                           // (False, (3,)): HyperLoom's py_task

// A run request as the worker writes it (executor_pool.cpp, run): the callable as the task's
// first input, the config as the last blob.
std::string run_request(TaskId id, std::size_t fn_size) {
  return R"({"op":"run","id":)" + std::to_string(id) + R"(,"inputs":[{"k":"pyobj","size":)" + std::to_string(fn_size) +
         R"(,"key":)" + std::to_string(id + 1000) + R"(,"b":0}],"input_ids":[)" + std::to_string(id + 1000) +
         R"(],"config":1})";
}

SimpleDone run_on(RealExecutor& executor, TaskId id, const std::string& fn, const std::string& config,
                  Message& reply) {
  executor.send(run_request(id, fn.size()), {fn, config});
  reply = executor.receive();
  INFO("the executor's reply: " << reply.header);
  SimpleDone done;
  REQUIRE(parse_simple_done(reply.header, done));  // the fast path, not the JSON parser
  CHECK(done.id == id);
  CHECK(done.blob < reply.blobs.size());
  CHECK(done.start_us > 0);
  CHECK(done.start_us <= done.end_us);
  return done;
}

}  // namespace

TEST_CASE("executor reply: a real executor's replies of the common results take the fixed-shape path",
          "[worker][executor]") {
  RealExecutor executor;
  executor.send(R"({"op":"hello","server":"127.0.0.1:1","governor":"","secret":0,"worker_pid":)" +
                    std::to_string(::getpid()) + R"(,"index":0})",
                {"secret"});
  REQUIRE(executor.receive().header == R"({"op":"ready"})");
  Message reply;

  SECTION("one PyObj: the native API's ordinary result") {
    SimpleDone done = run_on(executor, 5, pickled_abs, native_minus_seven, reply);
    CHECK(done.pyobj);
    CHECK(done.size > 0);
    CHECK(done.length == PyObjData::not_a_sequence);
  }
  SECTION("a tuple or a list: a PyObj with its length (dslice and dget may cut it)") {
    SimpleDone done = run_on(executor, 6, pickled_divmod, native_seven_two, reply);
    CHECK(done.pyobj);
    CHECK(done.length == 2);
    done = run_on(executor, 7, pickled_sorted, native_three_items, reply);
    CHECK(done.pyobj);
    CHECK(done.length == 3);
  }
  SECTION("bytes: HyperLoom's py_task result") {
    SimpleDone done = run_on(executor, 8, pickled_bytes, loom_three, reply);
    CHECK_FALSE(done.pyobj);
    CHECK(reply.blobs.at(done.blob) == std::string(3, '\0'));
  }
}

TEST_CASE("executor reply: other shapes are left to the JSON parser", "[worker][executor]") {
  SimpleDone done;
  for (const char* head : {
           R"({"op":"failed","id":5,"error":"x","t":[1,2]})",
           R"({"op":"done","id":5,"result":{"k":"array","items":[{"k":"plain","b":0}]},"t":[1,2]})",
           R"({"op":"done","id":5,"result":{"k":"pyobj","b":0,"size":28,"len":-1},"t":[1,2]})",
           R"({"op":"done","id":5,"result":{"k":"pyobj","b":0,"size":28,"len":},"t":[1,2]})",
           R"({"op":"done","id":5,"result":{"k":"plain","b":0,"len":2},"t":[1,2]})",
           R"({"op":"done","id":5,"result":{"k":"plain","b":0},"t":[2,1]})",
           R"({"op":"done","id":5,"result":{"k":"plain","b":0},"t":[1,2]} )",
       }) {
    INFO(head);
    CHECK_FALSE(parse_simple_done(head, done));
  }
}
