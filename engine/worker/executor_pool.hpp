#pragma once
// Persistent Python executor processes (python3 -m treadle.executor), one per cpu, started with
// the worker, which joins its server once they said they are ready. Each runs one task at a
// time, so CPU-bound Python tasks on one worker run in parallel without sharing a GIL, and no
// process is spawned per task. Once tasks have shown they are short, a second task waits in
// each executor's pipe, so it starts the moment the first ends. A pipe cannot give a task
// back: a cancelled one waiting there is withdrawn (the executor skips it, `withdraw`), so the
// task running in front and the executor are left alone.
//
// A task that waits on tasks it submitted secedes: its thread in the executor hands reading
// the pipe to a new thread, so the executor runs the next task meanwhile (its slot is free);
// when the wait ends the task rejoins and runs beside it (a brief oversubscription, never a
// deadlock). Seceded tasks are "detached": out of the slot, still in the process.
//
// The worker's loop polls the executors' reply and output pipes (poll_fds()), and takes in at
// most a few MB of replies per readiness (reply_reader.hpp: a huge result must not keep the loop
// from its heartbeats). Likewise a huge input goes down a request pipe a few MB per loop turn,
// while the pipe is writable (write_fds(), request_writer.hpp). Python prints
// arrive tagged with their task on the reply pipe; bytes written straight to file descriptors
// 1 and 2 are attributed to the task running on that executor at that moment.
//
// Wake-ups are what short tasks cost, so: the tasks queued on an executor in one loop turn go
// out in one write (flush_requests()); an executor sends the replies of short tasks several to
// a write (python/treadle/runtime/executor.py); and the end-of-task markers on fds 1 and 2 do
// not wake the loop: those pipes are read when a reply comes, and polled only while they carry
// output or a task has run for a while (see poll_fds()).
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "../common/ids.hpp"
#include "../common/protocol.hpp"
#include "../data/data.hpp"
#include "reply_reader.hpp"
#include "request_writer.hpp"

namespace treadle {

// For data that is not a whole task result (array items): not cached by executors.
inline constexpr TaskId no_producer = ~TaskId{0};

struct ExecutorResult {
  TaskId id = 0;
  unsigned executor = 0;  // which one ran it (for traces)
  DataPtr data;          // the result, unless failed or redirected
  std::string error;     // set when the task failed
  std::string exception; // and the Python exception itself, packed (may be empty)
  bool retry = false;    // never started (its executor died first): run it again
  json redirect;         // set when the task returned a Task: {types, labels}
  std::vector<std::string> redirect_frames;  // its plan columns
  std::int64_t start_us = 0, end_us = 0;
};

// What every executor is told first (over its request pipe, never its environment): the
// server its worker serves, so clients made inside tasks talk to that cluster, and the secret.
struct ExecutorHello {
  std::string server;  // host:port
  std::string secret;
  std::string governor;  // the worker's data address (Rain's governor id), once it is bound
};

struct ExecutorEvents {
  std::function<void(TaskId, const char* stream, std::string_view text)> output;
  std::function<void(TaskId, const std::string& level, const std::string& message)> log;
  // What a task recorded about itself (a Rain task's info: debug lines, user attributes,
  // content types), JSON text; sent before its result.
  std::function<void(TaskId, const std::string& info)> info;
  // The task waits on futures (its cpu is free), or its wait ended (it holds it again).
  std::function<void(TaskId, bool seceded)> seceded;
  // The task began executing: it is the executor's current task now, no longer waiting in its
  // pipe behind another (called from run() and on_readable()).
  std::function<void(TaskId)> started;
};

class ExecutorPool {
 public:
  ExecutorPool(unsigned size, std::string python, std::filesystem::path work_dir, ExecutorHello hello,
               ExecutorEvents events);
  ~ExecutorPool();

  bool has_idle() const;
  // Every executor said `ready` (its imports are done: a first task starts at once), or one
  // died before it did, or none could be started: waiting longer would not help.
  bool ready() const;
  // Starts the executors now rather than at the first Python task, so that a fresh cluster's
  // first map is not spent waiting for interpreters (and piled onto the worker whose executor
  // happened to be ready first). Idempotent.
  void start_all();
  // Told to executors started from now on (set it before start_all).
  void set_governor(std::string address) { hello_.governor = std::move(address); }
  // Where the large blobs of replies are read into (the heap unless set); for executors
  // started from now on (set it before start_all).
  void set_result_memory(ReplyReader::Memory memory) { result_memory_ = std::move(memory); }
  // Sends the task to an idle executor (starting executors if none runs yet).
  void run(TaskId id, const std::vector<DataPtr>& inputs, std::vector<TaskId> input_ids, std::string_view config);
  // The result of `id` is never reported. A task waiting in an executor's pipe behind another
  // is withdrawn: the executor skips it (docs/protocol.md, `withdraw`) and keeps its other
  // tasks; its slot stays taken until the executor answers. A running call of a function known
  // to be short is left to end within its grace (grace_us); the executor running any other is
  // killed and replaced (a seceded task is left to end); the other tasks it had come back in
  // `retry`, to be run again.
  void cancel(TaskId id, std::vector<ExecutorResult>& retry);
  // Call every loop turn (poll_timeout_ms wakes the loop for it): replaces the executors whose
  // cancelled task runs on past its grace (their other tasks come back in `retry`), and
  // withdraws the tasks waiting behind a call that has run far longer than its function's
  // usual time (overrun_at), to come back in `retry` once the executor answers `withdrawn`:
  // they go to an idle executor or worker rather than wait (executor_withdrawals.cpp).
  void tick(std::vector<ExecutorResult>& retry);
  // Writes the requests queued by run() since the last call (once per loop turn), and more of
  // those the pipes did not take before: a bounded amount per executor (request_writer.hpp).
  void flush_requests();
  // The request pipes with requests left to write: poll them for writing, then flush_requests().
  std::vector<int> write_fds() const;
  // File descriptors to poll for reading; call on_readable(fd) when one is ready. An executor's
  // fds 1 and 2 are among them only while they carry output (they did at the last read) or a
  // task has run (or the executor idled) for output_poll_us: a short task's output, and its
  // end-of-task marker, are read with its reply.
  std::vector<int> poll_fds() const;
  // How long the loop may wait before poll_fds() changes (an fd 1 or 2 joins), in ms.
  int poll_timeout_ms(int longest) const;
  void on_readable(int fd, std::vector<ExecutorResult>& finished);
  unsigned size() const { return static_cast<unsigned>(executors_.size()); }
  // The executors' process ids (those running now), for resource samples.
  std::vector<pid_t> pids() const {
    std::vector<pid_t> out;
    for (auto& e : executors_)
      if (e.pid > 0) out.push_back(e.pid);
    return out;
  }

 private:
  struct Executor {
    pid_t pid = -1;
    int requests = -1;  // we write
    int replies = -1;   // we read
    int out = -1, err = -1;
    ReplyReader reader;  // its replies, read a bounded amount per readiness
    std::string broken;  // why this worker ended it (its reply could not be taken in), if it did
    RequestWriter outbox;  // requests not written yet, in order (flush_requests)
    bool ready = false;  // it answered the hello: imported, waiting for tasks
    std::vector<TaskId> tasks;  // in flight: tasks[0] runs, the rest wait in the pipe
    // The last task sent while it was idle, and where its request begins on the pipe
    // (never_read_head).
    TaskId sent_idle = no_producer;
    std::uint64_t sent_idle_at = 0;
    // Tasks of `tasks` (or seceded) that were cancelled and withdrawn, by how many of their
    // entries (the earliest ones: a task sent again after its cancel comes later): the
    // executor's answer for them (withdrawn, or done/failed if it ran) frees the slot, and is
    // dropped.
    std::unordered_map<TaskId, unsigned> withdrawn;
    // tasks[0] is withdrawn but running (a short function's call, left to end): when the
    // executor is replaced if it has not ended (0: none such).
    std::int64_t withdrawn_deadline_us = 0;
    // Tasks withdrawn to be given back (tick), by entries as `withdrawn`: on `withdrawn` they are
    // run again elsewhere; if they ran here meanwhile, their result counts.
    std::unordered_map<TaskId, unsigned> given_back;
    bool head_overran = false;  // tasks[0] ran past overrun_at: nothing more is queued behind it
    std::unordered_set<TaskId> batched;  // tasks sent `batch`: the executor reads no withdrawal while one runs
    struct Detached {
      std::int64_t start_us = 0;
      bool rejoined = false;  // running again: it takes a slot, beside tasks[0]
    };
    std::unordered_map<TaskId, Detached> detached;  // tasks that seceded from the slot
    std::int64_t started_us = 0;  // when tasks[0] started (when the previous one ended)
    std::unordered_set<TaskId> cached;  // PyObj producers this executor has unpickled
    // The last output and the task it was credited to, for the message if the executor dies
    // (another task's output starts it afresh).
    std::string output_tail;
    TaskId output_tail_task = no_producer;
    void keep_output(TaskId task, std::string_view text);
    // Raw output is credited by end-of-task markers the executor writes to fds 1 and 2: per
    // stream, the tasks whose marker has not come yet, and a possibly cut marker.
    std::deque<TaskId> writing[2];
    std::string held[2];
    bool carries_output[2] = {false, false};  // the last read of fd 1 / 2 found output: poll it
  };
  void start(Executor& e);
  // Queues a request; its large blobs are queued as they lie, kept alive by `owner` (small
  // ones, and all without an owner, are copied).
  void send(Executor& e, const json& header, const std::vector<std::string_view>& blobs);
  void send(Executor& e, std::string_view header, const std::vector<std::string_view>& blobs,
            std::shared_ptr<const void> owner = nullptr);
  // Ends `e` (at once if `kill`, else once it read the end of its request pipe), and its
  // process group with it: the programs its tasks started and left running.
  void stop(Executor& e, bool kill);
  static bool has_exited(pid_t pid);  // it ended (not reaped: its pid stays its own)
  static void kill_group(pid_t executor);
  // Kills `e` and starts another in its place; its tasks but `cancelled` (and withdrawn ones)
  // come back in `retry`.
  void replace(Executor& e, TaskId cancelled, std::vector<ExecutorResult>& retry);
  // Whether the executor's answer about `id` is that of a withdrawn task (then forgotten).
  static bool answers_withdrawn(Executor& e, TaskId id);
  static bool take_mark(std::unordered_map<TaskId, unsigned>& marks, TaskId id);  // one entry of `id`, if marked
  static void head_changed(Executor& e);  // tasks[0] ended, seceded or was skipped
  void withdraw(Executor& e, TaskId id);  // writes `withdraw` for it
  // The moving average of the duration of `id`'s function's calls (-1: not known).
  double usual_us(TaskId id) const;
  // When the calls waiting behind `e`'s running call are given back (0: never, or done): once
  // it has run 8 times its function's usual time, and at least 50 ms.
  std::int64_t overrun_at(const Executor& e) const;
  std::int64_t overruns_at(const Executor& e) const;  // the same, whatever waits behind (0: never)
  bool overran(const Executor& e) const;  // its running call has: nothing more is queued behind it
  void give_back(Executor& e, std::int64_t now);
  // The executor's answers to a withdrawal: `id` will be skipped, or had started.
  void on_withdrawn(Executor& e, TaskId id, std::vector<ExecutorResult>& finished);
  void on_running(Executor& e, TaskId id);
  // How long a cancelled running call of `id`'s function may run on, from its start, rather
  // than its executor be replaced: 0 unless the function is known to be short (then 50 ms, or
  // 4 times its usual time): killing costs a new interpreter and the engine's namespace.
  double grace_us(TaskId id) const;
  void died(Executor& e, std::vector<ExecutorResult>& finished);
  static bool never_read_head(const Executor& e);
  // Reads what fd 1 or 2 holds now; whether there was output besides end-of-task markers.
  bool drain_output(Executor& e, int which);
  bool credit_output(Executor& e, int which, std::string_view text);
  bool polls_output(const Executor& e, std::int64_t now_us) const;
  std::int64_t output_poll_from(const Executor& e) const;  // when polls_output becomes true
  void parse_reply(Executor& e, const ReplyMessage& reply, std::vector<ExecutorResult>& finished);
  // A task's reply came (`times`: when it ran, by the executor's clock, or null): its output is
  // read, the next task in the pipe starts.
  void task_ended(Executor& e, ExecutorResult&& r, const std::int64_t* times, std::vector<ExecutorResult>& finished);
  void head_started(Executor& e);  // tasks[0] begins now (the one before it ended or seceded)
  void describe(std::string& out, const DataPtr& d, TaskId producer, Executor& e, std::vector<std::string_view>& blobs,
                std::vector<DataPtr>& keep);

  // Tasks in flight per executor: 1 until tasks are known to take under 50 ms, then 2 (one
  // runs, one waits in the pipe), more for tasks that take under a millisecond, so replies come
  // in batches and are reported together.
  std::size_t depth() const;
  static std::size_t load(const Executor& e);  // tasks in its slot, and rejoined ones
  // Whether `e` may take another task now: below `limit`, and every task in its slot is of a
  // function known to be short (a task queued behind a long one waits for it, unstealable).
  bool takes_more(const Executor& e, std::size_t limit) const;
  double task_us_ = 0;  // moving average of task durations
  std::unordered_map<TaskId, TaskId> function_of_;  // task in an executor -> its function (first input)
  std::unordered_map<TaskId, double> function_us_;  // function -> moving average of its tasks' durations
  bool died_starting_ = false;  // an executor died before it was ready
  unsigned size_;
  std::string python_;
  std::filesystem::path work_dir_;
  ExecutorHello hello_;
  ExecutorEvents events_;
  ReplyReader::Memory result_memory_;
  std::vector<Executor> executors_;
};

}  // namespace treadle
