#include "../common/clock.hpp"
#include "executor_pool.hpp"
#include "executor_reply.hpp"
#include "private_files.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cerrno>
#include <chrono>
#include <algorithm>
#include <cstring>

#include "../common/log.hpp"
#include "../data/array.hpp"
#include "../data/file.hpp"
#include "../data/index.hpp"
#include "../data/plain.hpp"
#include "../data/pyobj.hpp"

extern char** environ;

namespace treadle {
namespace fs = std::filesystem;

namespace {

// At most this much is written to one executor's request pipe per loop turn (the loop
// heartbeats between turns), as replies are read (reply_read_budget).
constexpr std::size_t request_write_budget = 8u << 20;

template <typename T>
void append_le(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <typename T>
void append_number(std::string& out, T value) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

// The package next to this program (prefix/bin/treadle-worker -> prefix/lib/treadle/python).
std::string package_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  fs::path dir = exe.parent_path().parent_path() / "lib" / "treadle" / "python";
  return fs::exists(dir / "treadle" / "executor.py") ? dir.string() : std::string();
}

constexpr std::size_t output_tail_limit = 4096;
// The executor's END_OF_TASK (python/treadle/executor.py).
constexpr char end_of_task_bytes[] = "\x00\x1etreadle:end-of-task\x1e\x00";
constexpr std::string_view end_of_task(end_of_task_bytes, sizeof end_of_task_bytes - 1);
// Tasks this long gain under 1% from a second one waiting in the pipe (a reply takes ~0.2 ms).
constexpr double long_task_us = 50'000;
constexpr std::size_t cache_limit = 512;  // the same as the executor's (python/treadle/executor.py)
// fds 1 and 2 of an executor whose task (or idleness) lasted this long are polled: output of a
// long task streams out as it comes, while short tasks' markers never wake the loop.
constexpr std::int64_t output_poll_us = 50'000;
constexpr std::size_t read_chunk = 65536;
// Reply bytes taken in per readiness of a reply pipe, then back to the loop (which heartbeats).
constexpr std::size_t reply_read_budget = std::size_t{8} << 20;

}  // namespace

ExecutorPool::ExecutorPool(unsigned size, std::string python, fs::path work_dir, ExecutorHello hello,
                           ExecutorEvents events)
    : size_(size ? size : 1),
      python_(std::move(python)),
      work_dir_(std::move(work_dir)),
      hello_(std::move(hello)),
      events_(std::move(events)) {}

ExecutorPool::~ExecutorPool() {
  for (auto& e : executors_) stop(e, false);
}

void ExecutorPool::start(Executor& e) {
  int req[2], rep[2], out[2], err[2];
  if (::pipe2(req, O_CLOEXEC) || ::pipe2(rep, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC))
    throw std::runtime_error(std::string("cannot create pipes for an executor: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawn_file_actions_adddup2(&actions, req[0], 3);
  posix_spawn_file_actions_adddup2(&actions, rep[1], 4);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // SIGTERM blocked until the executor has its handler (python/treadle/runtime/executor.py):
  // a batch job's end signals every process of the job, an executor still starting too.
  sigset_t term, all;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &term);
  posix_spawnattr_setsigdefault(&attr, &all);
  // The executor leads a process group of its own, which the programs its tasks start join:
  // ending the executor ends the group (kill_group), so those programs die with their task.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<std::string> env_strings;
  std::string pythonpath = package_dir();
  for (char** v = environ; *v; ++v) {
    std::string entry = *v;
    if (entry.rfind("PYTHONPATH=", 0) == 0) {
      std::string old = entry.substr(11);
      if (!old.empty()) pythonpath = pythonpath.empty() ? old : pythonpath + ":" + old;
      continue;
    }
    if (entry.rfind("PYTHONUNBUFFERED=", 0) == 0) continue;
    env_strings.push_back(entry);
  }
  if (!pythonpath.empty()) env_strings.push_back("PYTHONPATH=" + pythonpath);
  env_strings.push_back("PYTHONUNBUFFERED=1");  // prints reach the notebook as they happen
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string module_flag = "-m", module = "treadle.executor";
  std::vector<char*> argv = {python_.data(), module_flag.data(), module.data(), nullptr};

  // The executor's timers without slack (1 ns instead of Linux's 50 us): a task that sleeps or
  // waits with a timeout ends on time, not up to 50 us late (0.5% of a 10 ms task). The child
  // inherits this thread's value; the worker's own is put back.
  const int slack = ::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  if (slack > 1) ::prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, python_.c_str(), &actions, &attr, argv.data(), envp.data());
  if (slack > 1) ::prctl(PR_SET_TIMERSLACK, slack, 0, 0, 0);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(req[0]);
  ::close(rep[1]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(req[1]);
    ::close(rep[0]);
    ::close(out[0]);
    ::close(err[0]);
    throw std::runtime_error("cannot start the Python executor " + python_ + ": " + std::strerror(rc));
  }
  e = Executor{};
  e.reader = ReplyReader(result_memory_);
  e.pid = pid;
  e.requests = req[1];
  e.replies = rep[0];
  e.out = out[0];
  e.err = err[0];
  for (int fd : {e.requests, e.replies, e.out, e.err}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  {
    // The secret travels as a blob: any bytes, never JSON-escaped. `index`: which executor of
    // the worker this is (a replacement gets the index of the one it replaces): IPython's
    // engines are named by it.
    const auto index = static_cast<std::size_t>(&e - executors_.data());
    send(e, {{"op", "hello"}, {"server", hello_.server}, {"governor", hello_.governor}, {"secret", 0}, {"worker_pid", ::getpid()}, {"index", index},
          {"umask", private_files::user_umask()}},
         {hello_.secret});
  }
}

// One message on an executor's request pipe (python/treadle/runtime/pipe.py), queued in its
// outbox for flush_requests(); small blobs are copied in, a large one with an owner is queued
// as it lies (no copy).
void ExecutorPool::send(Executor& e, const json& header, const std::vector<std::string_view>& blobs) {
  send(e, std::string_view(header.dump()), blobs);
}

void ExecutorPool::send(Executor& e, std::string_view head, const std::vector<std::string_view>& blobs,
                        std::shared_ptr<const void> owner) {
  std::string* message = &e.outbox.tail();
  std::size_t copied = 8 + head.size();
  append_le<std::uint32_t>(*message, static_cast<std::uint32_t>(head.size()));
  *message += head;
  append_le<std::uint32_t>(*message, static_cast<std::uint32_t>(blobs.size()));
  for (auto& blob : blobs) {
    append_le<std::uint64_t>(*message, blob.size());
    copied += 8;
    if (blob.size() < RequestWriter::large_blob || !owner) {
      message->append(blob);
      copied += blob.size();
      continue;
    }
    e.outbox.append(blob, owner);
    message = &e.outbox.tail();
  }
  e.outbox.appended_to_tail(copied);
}

void ExecutorPool::flush_requests() {
  for (auto& e : executors_) {
    if (!e.outbox.pending() || e.pid <= 0) continue;
    try {
      e.outbox.write(e.requests, request_write_budget);
    } catch (const std::exception& error) {
      log::warn("executor ", e.pid, ": ", error.what());  // it died; its reply pipe reports EOF next
    }
  }
}

std::vector<int> ExecutorPool::write_fds() const {
  std::vector<int> fds;
  for (auto& e : executors_)
    if (e.outbox.pending() && e.pid > 0) fds.push_back(e.requests);
  return fds;
}

void ExecutorPool::stop(Executor& e, bool kill) {
  if (e.pid <= 0) return;
  if (kill) kill_group(e.pid);
  for (int fd : {e.requests, e.replies, e.out, e.err})
    if (fd >= 0) ::close(fd);
  e.outbox = RequestWriter();  // its fd is closed: what was not written is dropped
  // Closing its request pipe ends an idle executor; give it a moment, then insist. Either
  // way, what its tasks started and left running goes with it (kill_group, before the
  // executor is reaped: its pid cannot name another group meanwhile).
  for (int i = 0; i < 50 && !has_exited(e.pid); ++i) ::usleep(2000);
  kill_group(e.pid);
  while (::waitpid(e.pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  e.pid = -1;
}

bool ExecutorPool::has_exited(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

void ExecutorPool::kill_group(pid_t executor) {
  // Not reaped yet, so `executor` still names its group (alive or a zombie, it keeps its pid).
  if (::killpg(executor, SIGKILL) != 0) ::kill(executor, SIGKILL);
}

// By task, not by the markers' order: fds 1 and 2 are read apart, so a stdout marker of the task
// before may be read after a dying task's last words on stderr.
void ExecutorPool::Executor::keep_output(TaskId task, std::string_view text) {
  if (task != output_tail_task) {
    output_tail.clear();
    output_tail_task = task;
  }
  output_tail.append(text);
  if (output_tail.size() > output_tail_limit) output_tail.erase(0, output_tail.size() - output_tail_limit);
}

std::size_t ExecutorPool::depth() const {
  // One task at a time until tasks have shown they are short (and none behind a task of a
  // function not known to be short: takes_more): a task in an executor's pipe
  // counts as started, so no idle worker can steal it, and behind a long task (or the first,
  // which unpickles the function) that costs far more than the reply latency depth hides.
  if (task_us_ <= 0 || task_us_ >= long_task_us) return 1;
  return static_cast<std::size_t>(std::clamp(1000.0 / task_us_, 2.0, 32.0));
}

std::size_t ExecutorPool::load(const Executor& e) {
  std::size_t n = e.tasks.size();
  for (auto& [id, d] : e.detached) n += d.rejoined;
  return n;
}

bool ExecutorPool::takes_more(const Executor& e, std::size_t limit) const {
  if (load(e) >= limit || overran(e)) return false;
  for (TaskId t : e.tasks) {
    auto f = function_of_.find(t);
    if (f == function_of_.end()) return false;
    auto us = function_us_.find(f->second);
    if (us == function_us_.end() || us->second >= long_task_us) return false;
  }
  return true;
}

bool ExecutorPool::ready() const {
  if (died_starting_) return true;
  for (auto& e : executors_)
    if (!e.ready) return false;
  return true;
}

bool ExecutorPool::has_idle() const {
  if (executors_.empty()) return true;
  for (auto& e : executors_)
    if (takes_more(e, depth())) return true;
  return false;
}

std::int64_t ExecutorPool::output_poll_from(const Executor& e) const {
  std::int64_t oldest = e.started_us;  // the running task's start, or when the executor went idle
  for (auto& [id, d] : e.detached) oldest = std::min(oldest, d.start_us);
  return oldest + output_poll_us;
}

bool ExecutorPool::polls_output(const Executor& e, std::int64_t now_us) const {
  return e.carries_output[0] || e.carries_output[1] || now_us >= output_poll_from(e);
}

std::vector<int> ExecutorPool::poll_fds() const {
  std::vector<int> fds;
  const std::int64_t now = wall_us();
  for (auto& e : executors_) {
    fds.push_back(e.replies);
    if (!polls_output(e, now)) continue;
    fds.push_back(e.out);
    fds.push_back(e.err);
  }
  return fds;
}

int ExecutorPool::poll_timeout_ms(int longest) const {
  const std::int64_t now = wall_us();
  std::int64_t wait_us = std::int64_t{longest} * 1000;
  for (auto& e : executors_) {
    if (!polls_output(e, now)) wait_us = std::min(wait_us, output_poll_from(e) - now);
    if (e.withdrawn_deadline_us) wait_us = std::min(wait_us, e.withdrawn_deadline_us - now);
    if (const std::int64_t at = overrun_at(e)) wait_us = std::min(wait_us, at - now);
  }
  return static_cast<int>(std::max<std::int64_t>(1, (wait_us + 999) / 1000));
}

// Appends the JSON description of an input (python/treadle/runtime/executor.py, decode), written
// directly: a tiny task's request is built per task, and a JSON tree costs more than the task.
void ExecutorPool::describe(std::string& out, const DataPtr& d, TaskId producer, Executor& e,
                            std::vector<std::string_view>& blobs, std::vector<DataPtr>& keep) {
  switch (d->kind()) {
    case DataKind::plain:
      blobs.push_back(d->raw());
      out += R"({"k":"plain","b":)";
      append_number(out, blobs.size() - 1);
      out += '}';
      return;
    case DataKind::file:
      out += R"({"k":"file","path":)";
      out += json(static_cast<const FileData&>(*d).path()).dump();
      out += R"(,"size":)";
      append_number(out, d->size());
      out += '}';
      return;
    case DataKind::pyobj: {
      auto& obj = static_cast<const PyObjData&>(*d);
      out += R"({"k":"pyobj","size":)";
      append_number(out, obj.size());
      out += R"(,"key":)";
      // Whole objects are known by their producer: an executor unpickles each one once.
      if (producer == no_producer) {
        out += "null";
      } else {
        append_number(out, producer);
        if (e.cached.count(producer)) {
          out += R"(,"b":-1})";
          return;
        }
        if (e.cached.size() >= cache_limit) e.cached.clear();
        e.cached.insert(producer);
      }
      blobs.push_back(obj.pickled()->raw());
      keep.push_back(obj.pickled());
      out += R"(,"b":)";
      append_number(out, blobs.size() - 1);
      out += '}';
      return;
    }
    case DataKind::array: {
      out += R"({"k":"array","items":[)";
      bool first = true;
      for (auto& item : static_cast<const ArrayData&>(*d).items()) {
        if (!first) out += ',';
        first = false;
        describe(out, item, no_producer, e, blobs, keep);
      }
      out += "]}";
      return;
    }
    case DataKind::index: {
      auto& index = static_cast<const IndexData&>(*d);
      out += R"({"k":"index","base":)";
      describe(out, index.base(), no_producer, e, blobs, keep);
      out += R"(,"bounds":[)";
      for (std::size_t i = 0; i < index.bounds().size(); ++i) {
        if (i) out += ',';
        append_number(out, index.bounds()[i]);
      }
      out += "]}";
      return;
    }
  }
  out += "null";
}

void ExecutorPool::start_all() {
  if (!executors_.empty()) return;
  executors_.resize(size_);
  try {
    for (auto& e : executors_) start(e);
  } catch (...) {
    for (auto& e : executors_) stop(e, false);
    executors_.clear();  // the next Python task tries again, and fails with the reason
    throw;
  }
  log::info("started ", size_, " Python executor", size_ > 1 ? "s" : "");
}

void ExecutorPool::run(TaskId id, const std::vector<DataPtr>& inputs, std::vector<TaskId> input_ids,
                       std::string_view config) {
  start_all();
  Executor* least = nullptr;
  const std::size_t limit = depth();
  for (auto& e : executors_)
    if (takes_more(e, limit) && (!least || load(e) < load(*least))) least = &e;
  if (!least) throw std::logic_error("no idle executor");
  Executor& e = *least;
  std::vector<std::string_view> blobs;
  std::vector<DataPtr> keep;
  std::string header = R"({"op":"run","id":)";
  append_number(header, id);
  header += R"(,"inputs":[)";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (i) header += ',';
    describe(header, inputs[i], input_ids[i], e, blobs, keep);
  }
  blobs.push_back(config);
  // input_ids: the objects' ids, for a Rain task that asks the server what its producers recorded.
  header += R"(],"input_ids":[)";
  for (std::size_t i = 0; i < input_ids.size(); ++i) {
    if (i) header += ',';
    append_number(header, input_ids[i]);
  }
  header += R"(],"config":)";
  append_number(header, blobs.size() - 1);
  // Short tasks: the executor may send their replies together (it holds a reply at most 2 ms).
  if (limit > 2) {
    header += R"(,"batch":true)";
    if (e.batched.size() > 4096) e.batched.clear();  // (ended tasks are erased: this only bounds a leak)
    e.batched.insert(id);
  }
  header += '}';
  const bool first = e.tasks.empty();
  if (first) {
    e.started_us = wall_us();
    e.output_tail.clear();
    e.sent_idle = id;
    e.sent_idle_at = e.outbox.queued();
  }
  e.tasks.push_back(id);
  if (function_of_.size() > 65536) function_of_.clear();   // (ended tasks are erased: this only bounds a leak)
  function_of_[id] = input_ids.empty() ? 0 : input_ids[0];
  e.writing[0].push_back(id);
  e.writing[1].push_back(id);
  // A large input is queued as it lies (written over several loop turns): its objects are
  // kept alive until it is written (and a large config, copied, as the caller's may not live).
  std::shared_ptr<const void> owner;
  if (std::any_of(blobs.begin(), blobs.end(), [](std::string_view b) { return b.size() >= RequestWriter::large_blob; })) {
    struct Held {
      std::vector<DataPtr> data;
      std::string config;
    };
    auto held = std::make_shared<Held>();
    held->data = inputs;
    held->data.insert(held->data.end(), keep.begin(), keep.end());
    held->config.assign(config);
    blobs.back() = held->config;
    owner = std::move(held);
  }
  send(e, std::string_view(header), blobs, std::move(owner));
  if (first) head_started(e);  // an idle executor starts it at once; one behind waits in the pipe
}

void ExecutorPool::head_started(Executor& e) {
  if (!e.tasks.empty() && events_.started) events_.started(e.tasks.front());
}

void ExecutorPool::replace(Executor& e, TaskId cancelled, std::vector<ExecutorResult>& retry) {
  std::vector<TaskId> others;
  std::unordered_map<TaskId, unsigned> withdrawn = std::move(e.withdrawn);
  auto keep = [&](TaskId t) {
    if (t == cancelled) return;
    if (auto w = withdrawn.find(t); w != withdrawn.end() && w->second > 0) {
      --w->second;  // cancelled already
      return;
    }
    others.push_back(t);
  };
  for (TaskId t : e.tasks) keep(t);
  for (auto& [t, d] : e.detached) keep(t);
  for (TaskId t : e.tasks) function_of_.erase(t);
  for (auto& [t, d] : e.detached) function_of_.erase(t);
  stop(e, true);
  start(e);
  for (TaskId t : others) {
    ExecutorResult r;
    r.id = t;
    r.retry = true;
    retry.push_back(std::move(r));
  }
}

bool ExecutorPool::drain_output(Executor& e, int which) {
  char buf[read_chunk];
  const int fd = which ? e.err : e.out;
  bool output = false;
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return output;
    output |= credit_output(e, which, std::string_view(buf, static_cast<std::size_t>(n)));
    if (static_cast<std::size_t>(n) < sizeof buf) return output;  // the pipe is empty
  }
}

bool ExecutorPool::credit_output(Executor& e, int which, std::string_view chunk) {
  const char* stream = which ? "stderr" : "stdout";
  std::string data = std::move(e.held[which]);
  data.append(chunk);
  e.held[which].clear();
  bool output = false;
  auto emit = [&](std::string_view text) {
    if (text.empty()) return;
    output = true;
    TaskId task = e.writing[which].empty() ? no_producer : e.writing[which].front();
    e.keep_output(task, text);
    if (events_.output) events_.output(task, stream, text);
  };
  std::size_t from = 0;
  while (true) {
    std::size_t at = data.find(end_of_task, from);
    if (at == std::string::npos) break;
    emit(std::string_view(data).substr(from, at - from));
    if (!e.writing[which].empty()) e.writing[which].pop_front();
    from = at + end_of_task.size();
  }
  // Keep back a tail that may be the start of a marker cut by the read.
  std::size_t keep = 0;
  for (std::size_t k = std::min(end_of_task.size() - 1, data.size() - from); k > 0; --k)
    if (std::string_view(data).substr(data.size() - k) == end_of_task.substr(0, k)) {
      keep = k;
      break;
    }
  emit(std::string_view(data).substr(from, data.size() - from - keep));
  e.held[which] = data.substr(data.size() - keep);
  return output;
}

void ExecutorPool::on_readable(int fd, std::vector<ExecutorResult>& finished) {
  for (auto& e : executors_) {
    if (fd == e.out || fd == e.err) {
      const int which = fd == e.err;
      e.carries_output[which] = drain_output(e, which);  // markers alone: no need to poll it
      return;
    }
    if (fd != e.replies) continue;
    const pid_t pid = e.pid;
    ReplyMessage reply;
    try {
      // A bounded amount per call: the loop heartbeats between calls (reply_reader.hpp).
      for (std::size_t budget = reply_read_budget;;) {
        const ReplyReader::ReadResult read = e.reader.read(fd, budget);
        while (e.reader.next(reply)) {
          parse_reply(e, reply, finished);
          if (e.pid != pid) return;  // replaced already
        }
        if (read.closed) return died(e, finished);
        if (read.drained || read.bytes == 0 || read.bytes >= budget) return;
        budget -= read.bytes;
      }
    } catch (const std::exception& error) {
      // A reply that cannot be taken in (no memory for a result, a malformed message): the
      // executor is ended, its task fails saying why, the tasks behind it run again.
      if (e.pid != pid) return;
      log::warn("Python executor ", pid, ": cannot take in its reply: ", error.what());
      e.broken = std::string("was ended: the worker could not take in its reply (") + error.what() + ")";
      kill_group(e.pid);
      return died(e, finished);
    }
  }
}

void ExecutorPool::parse_reply(Executor& e, const ReplyMessage& reply, std::vector<ExecutorResult>& finished) {
  SimpleDone done;
  if (parse_simple_done(reply.head(), done)) {
    ExecutorResult r;
    r.id = done.id;
    r.data = done.pyobj ? std::make_shared<PyObjData>(reply.plain(done.blob), done.size, done.length)
                        : reply.plain(done.blob);
    const std::int64_t times[2] = {done.start_us, done.end_us};
    return task_ended(e, std::move(r), times, finished);
  }
  json header = json::parse(reply.head());
  const std::string op = header.value("op", "");
  if (op == "ready") {
    e.ready = true;
  } else if (op == "withdrawn") {
    on_withdrawn(e, header.value("id", TaskId{0}), finished);
  } else if (op == "running") {
    on_running(e, header.value("id", TaskId{0}));
  } else if (op == "log") {
    if (events_.log) events_.log(header.value("id", TaskId{0}), header.value("level", "info"), header.value("message", ""));
  } else if (op == "info") {
    if (events_.info) events_.info(header.value("id", TaskId{0}), header.value("info", std::string()));
  } else if (op == "out") {
    const std::string text = header.value("text", "");
    const TaskId task = header.value("id", TaskId{0});
    e.keep_output(task, text);  // kept for the message if the executor dies
    if (events_.output) events_.output(task, header.value("stream", "stdout") == "stderr" ? "stderr" : "stdout", text);
  } else if (op == "seceded" || op == "rejoined") {
    TaskId id = header.value("id", TaskId{0});
    auto at_slot = std::find(e.tasks.begin(), e.tasks.end(), id);
    bool next_starts = false;
    if (at_slot != e.tasks.end()) {  // it leaves the slot: the task behind it starts now
      const bool head = at_slot == e.tasks.begin();
      e.tasks.erase(at_slot);
      e.detached[id].start_us = head ? e.started_us : wall_us();
      if (head) {
        e.started_us = wall_us();
        head_changed(e);  // a seceded task is left to end
      }
      next_starts = head && !e.tasks.empty();
    }
    auto d = e.detached.find(id);
    if (d != e.detached.end()) {
      d->second.rejoined = op == "rejoined";
      if (events_.seceded) events_.seceded(id, op == "seceded");
    }
    if (next_starts) head_started(e);  // after the secession: its cpu is free first
  } else if (op == "done" || op == "failed") {
    ExecutorResult r;
    r.id = header.value("id", TaskId{0});
    // The executor's own times (the same wall clock): its reply may have waited in its buffer
    // or for this loop, which would make short tasks look long.
    std::int64_t times[2] = {0, 0};
    const auto t = header.find("t");
    const bool timed = t != header.end() && t->is_array() && t->size() == 2 && (*t)[0].is_number_integer() &&
                       (*t)[1].is_number_integer() && (*t)[0] <= (*t)[1];
    if (timed) {
      times[0] = (*t)[0].get<std::int64_t>();
      times[1] = (*t)[1].get<std::int64_t>();
    }
    if (op == "failed") {
      r.error = header.value("error", std::string("the Python task failed"));
      if (reply.blob_count() > 0) r.exception = reply.text(0);
    } else {
      const json& desc = header.at("result");
      std::function<DataPtr(const json&)> build = [&](const json& d) -> DataPtr {
        const std::string k = d.at("k");
        if (k == "plain") return reply.plain(d.at("b"));
        if (k == "pyobj")
          return std::make_shared<PyObjData>(reply.plain(d.at("b")), d.at("size"),
                                             d.value("len", PyObjData::not_a_sequence));
        if (k == "array") {
          std::vector<DataPtr> items;
          for (auto& item : d.at("items")) items.push_back(build(item));
          return std::make_shared<ArrayData>(std::move(items));
        }
        throw std::runtime_error("unknown result kind '" + k + "'");
      };
      if (desc.at("k") == "redirect") {
        r.redirect = {{"types", desc.at("types")}, {"labels", desc.at("labels")}};
        for (std::size_t i = desc.at("b").get<std::size_t>(); i < reply.blob_count(); ++i)
          r.redirect_frames.push_back(reply.text(i));
      } else {
        r.data = build(desc);
      }
    }
    task_ended(e, std::move(r), timed ? times : nullptr, finished);
  }
}

void ExecutorPool::task_ended(Executor& e, ExecutorResult&& r, const std::int64_t* times,
                              std::vector<ExecutorResult>& finished) {
  // Output written before the reply belongs to this task: read it, up to the task's
  // end-of-task marker, before ending the task (unless the marker was read already).
  for (int which : {0, 1}) {
    auto& waiting = e.writing[which];
    if (std::find(waiting.begin(), waiting.end(), r.id) == waiting.end()) continue;
    if (drain_output(e, which)) e.carries_output[which] = true;
  }
  r.executor = static_cast<unsigned>(&e - executors_.data());
  r.end_us = wall_us();
  auto d = e.detached.find(r.id);
  const bool was_detached = d != e.detached.end();
  r.start_us = was_detached ? d->second.start_us : e.started_us;
  if (was_detached) e.detached.erase(d);
  if (!was_detached && times) {
    r.start_us = times[0];
    r.end_us = times[1];
  }
  const bool next_starts = !was_detached && e.tasks.size() > 1;
  if (!was_detached) {
    if (!e.tasks.empty()) e.tasks.erase(e.tasks.begin());
    head_changed(e);
    double took = static_cast<double>(r.end_us - r.start_us);
    task_us_ = task_us_ == 0 ? took : 0.9 * task_us_ + 0.1 * took;
    if (auto f = function_of_.find(r.id); f != function_of_.end()) {
      if (function_us_.size() > 4096) function_us_.clear();
      auto [us, fresh] = function_us_.try_emplace(f->second, took);
      if (!fresh) us->second = 0.7 * us->second + 0.3 * took;
    }
    e.started_us = r.end_us;
  }
  function_of_.erase(r.id);
  e.batched.erase(r.id);
  // A task withdrawn too late (it had started, or ended): it was reported cancelled already.
  // One given back too late ran here: its result counts.
  take_mark(e.given_back, r.id);
  if (!answers_withdrawn(e, r.id)) finished.push_back(std::move(r));
  if (next_starts) head_started(e);  // the task behind it in the pipe runs now
}

// Whether the executor died without reading a byte of the request of tasks[0], sent to it while
// it was idle: it died idle (killed, out of memory) before or while the task was sent, so the
// task never started and runs again, rather than failing as the task that killed it. The pipe
// says how much it read: what was written less what is still in the pipe (FIONREAD).
// Only for an executor that had started (answered the hello): one that cannot start (a broken
// Python) fails its task saying why, rather than sending it on to the next that cannot either.
bool ExecutorPool::never_read_head(const Executor& e) {
  if (!e.ready || e.tasks.empty() || e.tasks.front() != e.sent_idle) return false;
  int unread = 0;
  if (::ioctl(e.requests, FIONREAD, &unread) != 0 || unread < 0) return false;
  return e.outbox.written() - static_cast<std::uint64_t>(unread) <= e.sent_idle_at;
}

void ExecutorPool::died(Executor& e, std::vector<ExecutorResult>& finished) {
  int status = 0;
  pid_t pid = e.pid;
  if (!e.ready) died_starting_ = true;
  drain_output(e, 0);
  drain_output(e, 1);
  const bool head_unread = never_read_head(e);
  for (int fd : {e.requests, e.replies, e.out, e.err}) ::close(fd);
  std::string how = "ended";
  // Once it has exited (its status says how), what its tasks started goes with it (a task
  // that ended the executor leaves its programs), before it is reaped.
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  kill_group(pid);
  if (::waitpid(pid, &status, 0) == pid) {
    if (WIFEXITED(status)) how = "exited with status " + std::to_string(WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) how = std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) +
                                        " (" + ::strsignal(WTERMSIG(status)) + ")";
  }
  if (!e.broken.empty()) how = e.broken;  // ended by this worker: why
  // The task it was running is the first whose end-of-task marker on fd 2 (the second one a task
  // writes) has not come: the tasks before it ended, but their replies may have been waiting in
  // the executor's buffer (short tasks' replies go several to a write), lost with it. Those
  // and the ones behind it, which never started, are run again.
  std::size_t running = e.tasks.size();
  for (std::size_t i = 0; i < e.tasks.size() && running == e.tasks.size(); ++i)
    if (std::find(e.writing[1].begin(), e.writing[1].end(), e.tasks[i]) != e.writing[1].end()) running = i;
  if (running == 0 && head_unread) running = e.tasks.size();  // it died idle: nothing ran
  log::warn("Python executor ", pid, " ", how,
            running < e.tasks.size() ? " while running task " + std::to_string(e.tasks[running]) : std::string());
  for (std::size_t i = 0; i < e.tasks.size(); ++i) {
    if (answers_withdrawn(e, e.tasks[i])) continue;  // cancelled already
    ExecutorResult r;
    r.id = e.tasks[i];
    r.start_us = e.started_us;
    r.end_us = wall_us();
    if (i == running) {
      r.error = "the Python executor running this task " + how;
      if (!e.output_tail.empty() && e.output_tail_task == r.id) r.error += "; its last output:\n" + e.output_tail;
    } else {
      r.retry = true;  // it ended but its reply was lost, or it never started
    }
    finished.push_back(std::move(r));
  }
  // Seceded tasks were waiting, not running: they are run again. A rejoined one may have been
  // the cause, as the head may: those fail.
  for (auto& [id, d] : e.detached) {
    if (answers_withdrawn(e, id)) continue;  // cancelled already
    ExecutorResult r;
    r.id = id;
    r.start_us = d.start_us;
    r.end_us = wall_us();
    if (d.rejoined) r.error = "the Python executor running this task " + how;
    else r.retry = true;
    finished.push_back(std::move(r));
  }
  for (TaskId t : e.tasks) function_of_.erase(t);
  for (auto& [id, d] : e.detached) function_of_.erase(id);
  e.tasks.clear();
  e.detached.clear();
  e.pid = -1;
  start(e);  // replaced at once, so the worker keeps its capacity
}

}  // namespace treadle
