#include "../common/clock.hpp"
#include "worker.hpp"
#include "worker_name.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <unordered_map>
#include <unordered_set>

#include "../common/attention_clock.hpp"
#include "../common/auth.hpp"
#include "../common/connection_watch.hpp"
#include "../common/batches.hpp"
#include "../common/log.hpp"
#include "../common/log_throttle.hpp"
#include "../common/message_fields.hpp"
#include "../common/protocol.hpp"
#include "../data/wire.hpp"
#include "../common/symbols.hpp"
#include "cancellation.hpp"
#include "checkpoint_writer.hpp"
#include "data_store.hpp"
#include "executor_pool.hpp"
#include "chunked_transfer.hpp"
#include "page_reporting.hpp"
#include "resource_sampler.hpp"
#include "same_host_handoff.hpp"
#include "thread_pool.hpp"
#include "work_dir.hpp"
#include "worker_actions.hpp"
#include "worker_state.hpp"

namespace treadle {
namespace fs = std::filesystem;

namespace {

// The local address that routes to `host`: what other workers should use to reach us.
std::string address_towards(const std::string& host) {
  if (host == "127.0.0.1" || host == "localhost") return "127.0.0.1";
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  if (getaddrinfo(host.c_str(), "9", &hints, &res) != 0 || !res) return "127.0.0.1";
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  std::string out = "127.0.0.1";
  if (fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
    sockaddr_in local{};
    socklen_t len = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      char buf[INET_ADDRSTRLEN];
      if (inet_ntop(AF_INET, &local.sin_addr, buf, sizeof buf)) out = buf;
    }
  }
  if (fd >= 0) ::close(fd);
  freeaddrinfo(res);
  return out;
}

std::uint64_t half_of_ram() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * page / 2 : (std::uint64_t{4} << 30);
}

// The receive memory a worker keeps: as asked, else a quarter of its memory limit, at most 1 GiB.
std::size_t receive_pool_limit(const WorkerOptions& options, std::uint64_t store_limit) {
  if (options.receive_pool_bytes >= 0) return static_cast<std::size_t>(options.receive_pool_bytes);
  return static_cast<std::size_t>(std::min<std::uint64_t>(store_limit / 4, std::uint64_t{1} << 30));
}

// Less than an eighth of the host's memory available (other processes need it more).
bool host_memory_is_short() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::uint64_t value = 0, total = 0, available = 0;
  std::string unit;
  while (meminfo >> key >> value) {
    std::getline(meminfo, unit);
    if (key == "MemTotal:") total = value;
    if (key == "MemAvailable:") available = value;
  }
  return total && available && available < total / 8;
}

struct ThreadResult {
  TaskId id;
  TaskOutcome outcome;
  bool started = false;  // not a result: the task's program is running now (TaskContext::started)
};

// Runs a task's function, timed; an exception, or no data, is the task's failure.
TaskOutcome run_task(const TaskRegistry::Function& run, TaskContext& ctx) {
  TaskOutcome out;
  out.start_us = wall_us();
  try {
    out.data = run(ctx);
    if (!out.data) out.error = "the task produced no data";
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  out.end_us = wall_us();
  return out;
}

}  // namespace

// The sockets, the loop and the wire: events go to the task state, whose decisions come back
// here as WorkerActions.
struct Worker::Impl final : WorkerActions {
  WorkerOptions options;
  TaskRegistry registry;
  std::atomic<bool> stop_requested{false};
  fs::path work_dir;
  std::unique_ptr<WorkDir> own_work_dir;  // locked while we live; removed at exit

  zmq::context_t context{1};
  std::unique_ptr<ZapAuthenticator> zap;
  std::unique_ptr<zmq::socket_t> server;    // DEALER to the server
  // Whether its connection is open: a server silent with its connection open is alive (busy
  // with a huge plan, or stopped), so its silence counts only once the connection closed.
  std::unique_ptr<ConnectionWatch> server_watch;
  std::int64_t server_closed_at = 0;  // on the attention clock
  bool told_silent = false;           // logged that the server is silent with its connection open
  std::unique_ptr<zmq::socket_t> data;      // ROUTER other workers fetch from
  std::unordered_map<std::string, std::unique_ptr<zmq::socket_t>> peers;  // DEALERs by address
  std::string data_address;
  std::unique_ptr<DataStore> store;
  std::unique_ptr<ThreadPool<ThreadResult>> pool;
  std::unique_ptr<ExecutorPool> executors;
  ResourceSampler sampler{1};
  std::unique_ptr<WorkerState> state;
  json outputs = json::array();  // what tasks printed or logged this loop turn
  // Tasks whose last output on stdout (bit 0) or stderr (bit 1) did not end its line: their
  // end goes to the client as an `end` item, so that line is shown when the task ends.
  std::unordered_map<TaskId, std::uint8_t> open_lines;
  log::Throttle malformed{"malformed messages"};  // a peer must not flood the log

  FinishedBatch report;  // what this loop turn made, sent at its end
  std::uint64_t next_req = 1;
  std::string host_id;  // this host's identity; empty: same-host handoff is off
  std::uint64_t fetched_bytes = 0;  // bytes of objects that came from peers over the network
  std::uint64_t handed_bytes = 0;   // bytes of objects taken from peers on this host by their files
  std::shared_ptr<ReceiveMemory> receive_memory;  // freed received objects' pages, for the next ones
  std::unique_ptr<ChunkAssembler> chunks;          // large objects arriving in pieces
  // The server's silence counts on the attention clock: a loop that was busy or stopped for a
  // while reads what the server sent meanwhile before it calls the server gone.
  AttentionClock attention{500, 0};
  std::int64_t server_heard = 0;  // on the attention clock
  std::int64_t next_heartbeat = 0;  // steady ms
  bool forgotten = false;  // the server no longer knows us (declared lost, or restarted)
  bool server_restarted = false;  // forgotten by a new server on that port (its run's name differs)
  std::string server_instance;    // the name of the server's run that welcomed us

  void setup();
  void wait_for_executors();
  void tidy_receive_memory();
  void heartbeat_if_due();
  std::vector<std::string> offered_types() const {
    auto types = registry.symbols();
    types.emplace_back(symbols::py_call);
    return types;
  }
  int loop();  // the exit code
  void on_server_message(Message& m);
  void on_peer_request(const std::string& routing, Message& m);
  void on_peer_data(const std::string& peer, Message& m);
  void pack_objects(const std::vector<TaskId>& ids, Message& reply, bool same_host = false,
                    std::vector<ObjectEntry>* in_chunks = nullptr);
  void request_objects(const std::string& peer, const std::vector<TaskId>& objects, bool by_file);
  zmq::socket_t& peer_socket(const std::string& address);
  void send_report();
  void task_output(TaskId id, const std::string& stream, std::string_view text);
  void task_output_ended(TaskId id);

  // WorkerActions
  TaskOutcome run_inline(const TaskRegistry::Entry& entry, TaskToRun& task) override;
  void run_on_thread(const TaskRegistry::Entry& entry, TaskToRun& task) override;
  bool executor_idle() const override { return executors->has_idle(); }
  void run_on_executor(TaskToRun& task) override {
    executors->run(task.id, task.inputs, task.input_ids, task.config);
  }
  void cancel_on_thread(TaskId task) override { cancellation::cancel(task); }
  std::vector<ExecutorResult> cancel_on_executor(TaskId task) override {
    std::vector<ExecutorResult> retry;
    executors->cancel(task, retry);
    task_output_ended(task);
    for (auto& r : retry) task_output_ended(r.id);
    return retry;
  }
  std::string write_checkpoint(const std::string& path, TaskId task, const DataPtr& result) override;
  void fetch(const std::string& peer, const std::vector<TaskId>& objects) override {
    request_objects(peer, objects, !host_id.empty());
  }
  void started(TaskId task) override { report.started.push_back(task); }
  void finished(TaskId task, const Data& result, std::int64_t start_us, std::int64_t end_us,
                std::uint32_t lane) override;
  void replicated(TaskId object, const std::string& peer, std::uint64_t size, std::int64_t start_us,
                  std::int64_t end_us) override;
  void aliased(TaskId task) override { report.aliased.push_back(task); }
  void output_made(ObjectId object, const Data& data) override;
  void failed(TaskId task, const std::string& message, const std::string& exception, const RunSpan* ran) override;
  void redirected(TaskId task, ExecutorResult& result) override;
  void seceded(TaskId task, bool seceded) override;
  void still_busy() override { heartbeat_if_due(); }
};

Worker::Worker(WorkerOptions options, TaskRegistry registry) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->registry = std::move(registry);
}

Worker::~Worker() = default;

void Worker::stop() { impl_->stop_requested = true; }

bool Worker::forgotten() const { return impl_->forgotten && !impl_->stop_requested; }

int Worker::run() {
  int code = 1;
  try {
    impl_->setup();
    code = impl_->loop();
  } catch (const std::exception& e) {
    log::error(e.what());
  }
  // Running programs are killed and sleeps woken, so the task threads end now.
  cancellation::cancel_all();
  impl_->executors.reset();
  impl_->pool.reset();
  return code;
}

void Worker::Impl::setup() {
  if (options.secret.empty()) options.secret = load_secret();
  forget_secret_variables();  // tasks run code: they must not find the secret in their environment
  if (options.work_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    own_work_dir = std::make_unique<WorkDir>(fs::path(tmp && *tmp ? tmp : "/tmp"), "treadle-worker-");
  } else {
    own_work_dir = std::make_unique<WorkDir>(fs::path(options.work_dir), "worker-");
  }
  work_dir = own_work_dir->path();
  const std::uint64_t store_limit = options.memory_limit ? options.memory_limit : half_of_ram();
  store = std::make_unique<DataStore>(work_dir / "spill", store_limit);
  store->set_still_busy([this] { heartbeat_if_due(); });
  state = std::make_unique<WorkerState>(*this, registry, *store, options.cpus);
  sampler = ResourceSampler(options.cpus);
  pool = std::make_unique<ThreadPool<ThreadResult>>(options.cpus + 8);
  ExecutorEvents events;
  events.output = [this](TaskId id, const char* stream, std::string_view text) { task_output(id, stream, text); };
  events.log = [this](TaskId id, const std::string& level, const std::string& message) {
    log::info("task ", id, " [", level, "] ", message);
    task_output(id, "log:" + level, message);
  };
  events.info = [this](TaskId id, const std::string& info) {
    // Before the task's result (its report goes out later): the server has it when the task ends.
    send_message(*server, Message(json{{"op", op::task_info}, {"id", id}, {"info", info}}));
  };
  events.seceded = [this](TaskId id, bool seceded) { state->task_seceded(id, seceded); };
  events.started = [this](TaskId id) { state->executor_started(id); };
  if (options.same_host_handoff) host_id = host_identity();
  keep_memory_for_pieces();
  const bool huge_pages = options.receive_huge_pages >= 0 ? options.receive_huge_pages == 1 : !host_takes_back_free_memory();
  receive_memory = ReceiveMemory::create(receive_pool_limit(options, store_limit), options.receive_pool_idle_ms, huge_pages);
  receive_memory->prefault_in_background(static_cast<std::size_t>(options.receive_pool_prefault_bytes));
  ExecutorHello hello{options.server_host + ":" + std::to_string(options.server_port), options.secret};
  executors = std::make_unique<ExecutorPool>(options.cpus, options.python, work_dir, std::move(hello), std::move(events));
  // A large result is read into the pages of freed received objects too (touched already).
  executors->set_result_memory([memory = receive_memory](std::size_t size) {
    if (size < chunked_min_bytes) return ReplyReader::heap_storage(size);
    ReceiveMemory::Buffer buffer = memory->take(size);
    return ReplyReader::Storage{std::move(buffer.owner), buffer.bytes};
  });
  chunks = std::make_unique<ChunkAssembler>(receive_memory);
  zap = std::make_unique<ZapAuthenticator>(context, options.secret);
  data = std::make_unique<zmq::socket_t>(context, zmq::socket_type::router);
  std::string host = options.listen_host.empty() ? address_towards(options.server_host) : options.listen_host;
  require_authentication(*data, options.secret, host);
  data->set(zmq::sockopt::linger, 0);
  data->set(zmq::sockopt::sndhwm, 0);
  data->bind("tcp://" + host + ":*");
  data_address = data->get(zmq::sockopt::last_endpoint);
  executors->set_governor(data_address);
  try {
    executors->start_all();
  } catch (const std::exception& error) {
    log::warn("cannot start the Python executors yet: ", error.what());
  }

  server = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
  const std::string server_endpoint = "tcp://" + options.server_host + ":" + std::to_string(options.server_port);
  authenticate_as_client(*server, options.secret, server_endpoint);
  server->set(zmq::sockopt::linger, 0);
  server->set(zmq::sockopt::sndhwm, 0);
  // With no server (refused handshake) a send waits at most this long, and the loop goes on
  // to notice the silence and exit.
  server->set(zmq::sockopt::sndtimeo, 2000);
  server->set(zmq::sockopt::rcvhwm, 0);
  server_watch = std::make_unique<ConnectionWatch>(context, *server, options.server_timeout_ms, steady_ms());
  server->connect(server_endpoint);

  const std::string name = worker_name(options.job);
  wait_for_executors();
  if (stop_requested) return;  // stopped while starting: never joined, nothing to say
  send_message(*server, Message(json{{"op", op::hello},
                                     {"role", "worker"},
                                     {"name", name},
                                     {"cpus", options.cpus},
                                     {"data_address", data_address},
                                     {"types", offered_types()}}));
  log::info("serving data at ", data_address, ", work dir ", work_dir.string());
}

// The worker offers its cpus once its executors are ready (imports done): a cluster that is up
// runs its first map at full speed, rather than queueing tasks behind starting interpreters
// where no idle worker can take them. Bounded: a slow start (a loaded host, imports from a
// network file system) only delays the first Python tasks, as it did before.
void Worker::Impl::wait_for_executors() {
  const std::int64_t start = steady_ms(), deadline = start + options.executor_start_ms;
  std::vector<ExecutorResult> none;  // no task runs yet
  executors->flush_requests();       // their hello (and a replacement's, after one died)
  while (!executors->ready() && !stop_requested) {
    const std::int64_t left = deadline - steady_ms();
    if (left <= 0) {
      log::warn("the Python executors are not ready after ", options.executor_start_ms, " ms: joining anyway");
      return;
    }
    std::vector<zmq::pollitem_t> items;
    for (int fd : executors->poll_fds()) items.push_back({nullptr, fd, ZMQ_POLLIN, 0});
    const std::size_t readable_items = items.size();
    for (int fd : executors->write_fds()) items.push_back({nullptr, fd, ZMQ_POLLOUT, 0});
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(std::min<std::int64_t>(left, 200)));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      continue;  // a signal: stop_requested says whether to go on
    }
    for (std::size_t i = 0; i < readable_items; ++i)
      if (items[i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) executors->on_readable(items[i].fd, none);
    executors->flush_requests();
  }
  if (executors->size()) log::info("Python executors ready after ", steady_ms() - start, " ms");
}

// Twice a second: pieces of objects nobody fetches any more (their peer died mid-transfer, the
// consumer was cancelled) are dropped, and kept receive memory goes back to the system when
// idle, when the objects held need it, or when the host runs short.
void Worker::Impl::tidy_receive_memory() {
  chunks->drop_unless([this](const std::string& peer, ObjectId id) { return state->fetching_from(id, peer); });
  receive_memory->give_back_idle();
  const std::uint64_t limit = store->memory_limit(), held = store->memory_bytes();
  std::uint64_t room = held < limit ? limit - held : 0;
  if (receive_memory->kept_bytes() && host_memory_is_short()) room = 0;
  receive_memory->keep_at_most(static_cast<std::size_t>(std::min<std::uint64_t>(room, receive_memory->limit_bytes())));
}

// Twice a second, also from within long work (still_busy): the server counts a worker silent
// for its timeout (3 s) as lost. Each heartbeat carries a sample of the worker's cpu and memory
// use (docs/tracing.md).
void Worker::Impl::heartbeat_if_due() {
  const std::int64_t now = steady_ms();
  if (now < next_heartbeat) return;
  next_heartbeat = now + 500;
  std::int64_t at = wall_us();
  ResourceSample r = sampler.sample(executors->pids(), at);
  send_message(*server, Message(json{{"op", op::heartbeat},
                                     {"t", at},
                                     {"cpu", r.cpu_percent},
                                     {"rss", r.rss},
                                     {"store", store->memory_bytes()},
                                     {"spilled", store->spilled_bytes()},
                                     {"objects", store->count()},
                                     {"fetched_bytes", fetched_bytes},
                                     {"handed_bytes", handed_bytes},
                                     {"receiving", chunks->pending_bytes()},
                                     {"receive_pool", receive_memory->kept_bytes()},
                                     {"reused_bytes", receive_memory->reused_bytes()}}));
}

int Worker::Impl::loop() {
  attention = AttentionClock(std::max<std::int64_t>(500, options.server_timeout_ms / 4), steady_ms());
  server_heard = attention.now();
  next_heartbeat = 0;
  std::int64_t next_tidy = 0;
  bool welcomed = false;
  while (!stop_requested) {
    std::vector<zmq::pollitem_t> items = {{static_cast<void*>(*server), 0, ZMQ_POLLIN, 0},
                                          {static_cast<void*>(*data), 0, ZMQ_POLLIN, 0},
                                          {nullptr, pool->wake_fd(), ZMQ_POLLIN, 0},
                                          server_watch->poll_item()};
    std::vector<zmq::socket_t*> peer_sockets;
    std::vector<const std::string*> peer_addresses;
    for (auto& [address, socket] : peers) {
      items.push_back({static_cast<void*>(*socket), 0, ZMQ_POLLIN, 0});
      peer_sockets.push_back(socket.get());
      peer_addresses.push_back(&address);
    }
    const std::size_t first_executor_item = items.size();
    for (int fd : executors->poll_fds()) items.push_back({nullptr, fd, ZMQ_POLLIN, 0});
    const std::size_t first_request_item = items.size();
    // A request pipe with a large input left to write wakes the loop when it takes more (the
    // turn's flush_requests() writes it).
    for (int fd : executors->write_fds()) items.push_back({nullptr, fd, ZMQ_POLLOUT, 0});
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(executors->poll_timeout_ms(200)));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;  // a signal: stop_requested says whether to go on
      throw;
    }
    attention.looked(steady_ms());
    if (items[3].revents & ZMQ_POLLIN) {  // the server connection's events
      const bool was_open = server_watch->open();
      server_watch->on_readable(steady_ms());
      if (was_open && !server_watch->open()) server_closed_at = attention.now();
    }

    if (items[0].revents & ZMQ_POLLIN) {
      for (int i = 0; i < 1024; ++i) {
        Message m;
        try {
          if (!recv_message(*server, m, nullptr, true)) break;
          server_heard = attention.now();
          if (m.op() == op::welcome) {
            welcomed = true;
            server_instance = m.header.value("server", std::string());
          }
          on_server_message(m);
          heartbeat_if_due();  // between messages: a turn may bring many big ones
        } catch (const std::exception& e) {
          malformed.warn("the server", "bad message from the server: ", e.what());
        }
      }
    }
    if (items[1].revents & ZMQ_POLLIN) {
      for (int i = 0; i < 1024; ++i) {
        Message m;
        std::string routing;
        try {
          if (!recv_message(*data, m, &routing, true)) break;
          on_peer_request(routing, m);
          heartbeat_if_due();
        } catch (const std::exception& e) {
          malformed.warn("peers fetching data", "bad request from a peer: ", e.what());
        }
      }
    }
    if (items[2].revents & ZMQ_POLLIN) {
      for (auto& r : pool->take_results()) {
        if (r.started) {
          state->thread_started(r.id);
          continue;
        }
        cancellation::forget(r.id);
        state->thread_finished(r.id, std::move(r.outcome));
      }
    }
    for (std::size_t i = 0; i < peer_sockets.size(); ++i) {
      if (!(items[4 + i].revents & ZMQ_POLLIN)) continue;
      for (int k = 0; k < 1024; ++k) {
        Message m;
        try {
          if (!recv_message(*peer_sockets[i], m, nullptr, true)) break;
          on_peer_data(*peer_addresses[i], m);
          heartbeat_if_due();
        } catch (const std::exception& e) {
          malformed.warn("peers it fetches from", "bad data from a peer: ", e.what());
        }
      }
    }
    std::vector<ExecutorResult> executor_results;
    for (std::size_t i = first_executor_item; i < first_request_item; ++i)
      if (items[i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) executors->on_readable(items[i].fd, executor_results);
    executors->tick(executor_results);
    for (auto& r : executor_results) {
      task_output_ended(r.id);  // before its result or failure is reported
      state->executor_finished(r);
    }
    state->run_ready();
    executors->flush_requests();  // what this turn queued on each executor, in one write
    send_report();
    malformed.tick();

    heartbeat_if_due();
    if (const std::int64_t now = steady_ms(); now >= next_tidy) {
      next_tidy = now + 500;
      tidy_receive_memory();
    }
    const std::int64_t silence = attention.now() - server_heard;
    if (welcomed && silence > options.server_timeout_ms && server_watch->open()) {
      if (!told_silent)
        log::warn("the server has been silent for ", silence / 1000, " s, its connection open (busy, or stopped): waiting");
      told_silent = true;
    } else if (welcomed && silence <= options.server_timeout_ms) {
      told_silent = false;
    } else if (silence > options.server_timeout_ms &&
               (!welcomed || attention.now() - server_closed_at > options.server_timeout_ms)) {
      if (welcomed) {
        log::warn("the server went silent; exiting");
        return 0;
      }
      log::error("no answer from the server at ", options.server_host, ":", options.server_port,
                 " (is it running there, and do both sides have the same secret?)");
      return 1;
    }
    if (forgotten) {
      // Its tasks were placed elsewhere and what it holds counts as lost: it joins again as a
      // new worker with nothing (run_worker_main), so no stale result or object is ever served.
      if (server_restarted)
        log::warn("the server at ", options.server_host, ":", options.server_port,
                  " restarted (it does not know this worker): joining again as a new worker, with nothing from before");
      else
        log::warn("the server declared this worker lost (unreachable or unresponsive for a while): "
                  "joining again as a new worker, with nothing from before");
      return 0;
    }
  }
  // Asked to stop: say so, so the server re-places our tasks now instead of after the
  // heartbeat timeout (a few seconds in which it still counts us).
  if (welcomed) {
    server->set(zmq::sockopt::linger, 500);
    send_message(*server, Message(json{{"op", op::bye}}));
  }
  return 0;
}

void Worker::Impl::on_server_message(Message& m) {
  const std::string op = m.op();
  if (op == op::compute) return state->compute(ComputeBatch::decode(m), wall_us());
  if (op == op::free) {
    const std::vector<TaskId> ids = fields::ids(m.header, "ids");  // up to 65,536 at the end of a big plan
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (i % 4096 == 4095) heartbeat_if_due();
      state->free(ids[i]);
    }
    return;
  }
  if (op == op::cancel) {
    for (TaskId id : fields::ids(m.header, "ids")) state->cancel(id);
    return;
  }
  if (op == op::steal) {
    // Race-free: only tasks not started here go back; the server places just those again.
    std::vector<TaskId> asked = fields::ids(m.header, "ids");
    std::vector<TaskId> given = state->give_back(asked);
    std::unordered_set<TaskId> removed(given.begin(), given.end());
    std::vector<TaskId> kept;
    for (TaskId id : asked)
      if (!removed.count(id)) kept.push_back(id);
    send_message(*server, Message(json{{"op", op::gave_back}, {"ids", given}, {"kept", kept}}));
    return;
  }
  if (op == op::alias) {
    // A redirected task's result is the result of the plan it returned: same object, two names.
    const json& pairs = fields::list(m.header, "pairs", fields::max_ids);
    for (auto& pair : pairs)
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_unsigned() || !pair[1].is_number_unsigned())
        throw ProtocolError("field 'pairs' must be a list of [from, to] task id pairs");
    for (auto& pair : pairs) state->alias(pair[0].get<TaskId>(), pair[1].get<TaskId>());
    return;
  }
  if (op == op::replicate) {
    std::string peer = fields::text(m.header, "peer", fields::max_path, true);
    if (peer.rfind("tcp://", 0) != 0) throw ProtocolError("field 'peer' must be a data address tcp://HOST:PORT");
    return state->replicate(peer, fields::ids(m.header, "ids"), wall_us());
  }
  if (op == op::retire) {
    // The server placed nothing here any more and has copies of what is still needed: leave.
    log::info("retired by the server: stopping");
    stop_requested = true;
    return;
  }
  if (op == op::upload) {
    Message reply(json{{"op", op::data}, {"req", fields::unsigned_integer(m.header, "req")}});
    pack_objects(fields::ids(m.header, "ids"), reply);
    send_message(*server, std::move(reply));
    return;
  }
  if (op == op::error) {
    if (m.header.value("code", std::string()) == "unknown_peer") {
      // Said once, when it leaves to join again (not per heartbeat still in flight). A server
      // run of another name than the one that welcomed us restarted; the same one declared us lost.
      const std::string instance = m.header.value("server", std::string());
      server_restarted = server_restarted || (!instance.empty() && instance != server_instance);
      forgotten = true;
      return;
    }
    log::error("server: ", m.header.value("message", std::string()));
    return;
  }
  if (op == op::welcome || op == op::heartbeat) return;
  log::warn("unknown op from the server: ", op);
}

zmq::socket_t& Worker::Impl::peer_socket(const std::string& address) {
  auto& socket = peers[address];
  if (!socket) {
    socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
    authenticate_as_client(*socket, options.secret, address);
    socket->set(zmq::sockopt::linger, 0);
    socket->set(zmq::sockopt::rcvhwm, pieces_read_ahead);  // the holder queues the rest: nothing is dropped
    socket->connect(address);
  }
  return *socket;
}

// In requests of at most fetch_slice objects: a batch of merges can name tens of thousands of
// inputs on one peer, and one message for them all would keep both loops busy (packing there,
// taking them in here) for seconds without a heartbeat on a loaded machine.
void Worker::Impl::request_objects(const std::string& peer, const std::vector<TaskId>& objects, bool by_file) {
  constexpr std::size_t fetch_slice = 1024;
  for (std::size_t first = 0; first < objects.size(); first += fetch_slice) {
    const auto begin = objects.begin() + static_cast<std::ptrdiff_t>(first);
    const auto end = objects.begin() + static_cast<std::ptrdiff_t>(std::min(objects.size(), first + fetch_slice));
    json header{{"op", op::peer_fetch}, {"req", next_req++}, {"ids", std::vector<TaskId>(begin, end)}};
    if (by_file) header["host"] = host_id;  // who asks: a holder on this host may answer with files
    send_message(peer_socket(peer), Message(std::move(header)));
  }
}

void Worker::Impl::pack_objects(const std::vector<TaskId>& ids, Message& reply, bool same_host,
                                std::vector<ObjectEntry>* in_chunks) {
  std::vector<ObjectEntry> objects;
  objects.reserve(ids.size());
  json handed = json::array();
  for (TaskId id : ids) {
    DataPtr data = store->find(id);
    if (same_host)
      if (json file = describe_for_handoff(id, data); !file.is_null()) {
        handed.push_back(std::move(file));
        continue;
      }
    if (in_chunks && goes_in_chunks(data)) {
      in_chunks->push_back({id, std::move(data)});
      continue;
    }
    objects.push_back({id, std::move(data)});
  }
  encode_objects(objects, reply.header, reply.frames);
  if (!handed.empty()) reply.header["handed"] = std::move(handed);
}

void Worker::Impl::on_peer_request(const std::string& routing, Message& m) {
  if (m.op() != op::peer_fetch) return;
  Message reply(json{{"op", op::data}, {"req", fields::unsigned_integer(m.header, "req")}});
  // Files only for a peer of this host (the same boot, host name and user), never on the
  // address alone; the peer is one that authenticated with the secret.
  const bool same_host = !host_id.empty() && fields::has(m.header, "host") &&
                         fields::text(m.header, "host", fields::max_name) == host_id;
  std::vector<ObjectEntry> in_chunks;
  pack_objects(fields::ids(m.header, "ids"), reply, same_host, &in_chunks);
  if (!in_chunks.empty()) {
    json ids = json::array();
    for (auto& [id, object] : in_chunks) {
      for (Message& chunk : chunk_messages(reply.header["req"].get<std::uint64_t>(), id, object))
        send_message(*data, std::move(chunk), routing);
      ids.push_back(id);
    }
    reply.header["chunked"] = std::move(ids);  // after its pieces: the fetcher has them all then
  }
  send_message(*data, std::move(reply), routing);
}

void Worker::Impl::on_peer_data(const std::string& peer, Message& m) {
  const std::string op = m.op();
  if (op == op::data_chunk) return chunks->add(peer, m);
  if (op != op::data) return;
  if (m.header.contains("chunked")) {
    const std::uint64_t req = fields::unsigned_integer(m.header, "req");
    for (ObjectId id : fields::ids(m.header, "chunked")) {
      if (chunks->dropped(peer, id, req)) continue;  // nobody waited for it any more
      DataPtr data;
      try {
        data = chunks->take(peer, id);
        fetched_bytes += data->size();
      } catch (const ProtocolError& e) {
        log::warn("object ", id, " from ", peer, ": ", e.what());  // its consumers fail, saying so
      }
      state->fetched(id, std::move(data), wall_us());
    }
  }
  std::vector<TaskId> over_network;  // handed files this worker could not take
  if (auto handed = m.header.find("handed"); handed != m.header.end()) {
    if (!handed->is_array()) throw ProtocolError("field 'handed' must be a list");
    for (const json& file : *handed) {
      ObjectId id = fields::unsigned_integer(file, "id");
      try {
        DataPtr data = adopt_handed_file(file, work_dir);
        handed_bytes += data->size();
        state->fetched(id, std::move(data), wall_us());
      } catch (const DataError& e) {
        log::debug("object ", id, " from ", peer, " comes over the network: ", e.what());
        over_network.push_back(id);
      }
    }
  }
  for (auto& [id, data] : decode_objects(m.header, m.frames)) {
    if (data && data->kind() != DataKind::file) fetched_bytes += data->size();  // a file object moves its path only
    state->fetched(id, std::move(data), wall_us());
  }
  if (!over_network.empty()) request_objects(peer, over_network, false);
}

TaskOutcome Worker::Impl::run_inline(const TaskRegistry::Entry& entry, TaskToRun& task) {
  TaskContext ctx;
  ctx.id = task.id;
  ctx.type = task.type;
  ctx.config = task.config;
  ctx.inputs = std::move(task.inputs);
  ctx.work_dir = work_dir;
  return run_task(entry.run, ctx);
}

void Worker::Impl::run_on_thread(const TaskRegistry::Entry& entry, TaskToRun& task) {
  ThreadPool<ThreadResult>* threads = pool.get();
  pool->submit([id = task.id, run = entry.run, type = std::string(task.type), config = std::string(task.config),
                inputs = std::move(task.inputs), dir = work_dir, threads]() mutable {
    TaskContext c;
    c.id = id;
    c.type = type;
    c.config = config;
    c.inputs = std::move(inputs);
    c.work_dir = dir;
    // Running from now, not from when it was queued for a thread; a program once it exists.
    if (type == symbols::run) c.started = [threads, id] { threads->post(ThreadResult{id, {}, true}); };
    else threads->post(ThreadResult{id, {}, true});
    return ThreadResult{id, run_task(run, c), false};
  });
}

std::string Worker::Impl::write_checkpoint(const std::string& path, TaskId task, const DataPtr& result) {
  try {
    treadle::write_checkpoint(path, task, result);
    return {};
  } catch (const std::exception& e) {
    return e.what();
  }
}

void Worker::Impl::finished(TaskId task, const Data& result, std::int64_t start_us, std::int64_t end_us,
                            std::uint32_t lane) {
  report.ids.push_back(task);
  report.lanes.push_back(lane);
  report.sizes.push_back(result.size());
  report.lengths.push_back(result.length());
  report.kinds.push_back(static_cast<std::uint8_t>(static_cast<std::uint8_t>(result.kind()) |
                                                   (result.has_pieces() ? FinishedBatch::has_pieces_bit : 0)));
  report.start_us.push_back(start_us);
  report.end_us.push_back(end_us);
}

void Worker::Impl::output_made(ObjectId object, const Data& data) {
  report.objects.push_back(object);
  report.object_sizes.push_back(data.size());
  report.object_lengths.push_back(data.length());
  report.object_kinds.push_back(static_cast<std::uint8_t>(static_cast<std::uint8_t>(data.kind()) |
                                                          (data.has_pieces() ? FinishedBatch::has_pieces_bit : 0)));
}

void Worker::Impl::replicated(TaskId object, const std::string& peer, std::uint64_t size, std::int64_t start_us,
                              std::int64_t end_us) {
  auto peer_index = std::find(report.transfer_peers.begin(), report.transfer_peers.end(), peer);
  if (peer_index == report.transfer_peers.end()) peer_index = report.transfer_peers.insert(peer_index, peer);
  report.replicas.push_back(object);
  report.transfer_from.push_back(static_cast<std::uint32_t>(peer_index - report.transfer_peers.begin()));
  report.transfer_sizes.push_back(size);
  report.transfer_start_us.push_back(start_us);
  report.transfer_end_us.push_back(end_us);
}

void Worker::Impl::failed(TaskId task, const std::string& message, const std::string& exception,
                          const RunSpan* ran) {
  // A failure while the worker stops is its job's end (job_end.hpp) or its executors going
  // with it: the server re-places the task when this worker says goodbye.
  if (stop_requested) return;
  send_report();  // keep the order: results before this failure
  json header{{"op", op::task_failed}, {"id", task}, {"message", message}};
  if (!exception.empty()) header["exception"] = json::binary(std::vector<std::uint8_t>(exception.begin(), exception.end()));
  if (ran && ran->start_us > 0 && ran->end_us >= ran->start_us) {  // for the trace: a failed task's bar
    header["start_us"] = ran->start_us;
    header["end_us"] = ran->end_us;
    header["lane"] = ran->lane;
  }
  send_message(*server, Message(std::move(header)));
}

void Worker::Impl::redirected(TaskId task, ExecutorResult& r) {
  Message m(json{{"op", op::redirect}, {"id", task}, {"types", r.redirect["types"]}, {"labels", r.redirect["labels"]}});
  for (auto& frame : r.redirect_frames) m.frames.emplace_back(frame.data(), frame.size());
  send_report();
  send_message(*server, std::move(m));
}

void Worker::Impl::seceded(TaskId task, bool seceded) {
  send_report();  // keep the order: what it reported before comes first
  send_message(*server, Message(json{{"op", seceded ? op::seceded : op::rejoined}, {"id", task}}));
}

void Worker::Impl::task_output(TaskId id, const std::string& stream, std::string_view text) {
  if (id == no_producer) {
    log::info("executor ", stream, ": ", text);
    return;
  }
  const std::uint8_t bit = stream == "stdout" ? 1 : stream == "stderr" ? 2 : 0;
  if (bit && !text.empty()) {
    if (text.back() != '\n') open_lines[id] |= bit;
    else if (auto open = open_lines.find(id); open != open_lines.end() && !(open->second &= ~bit))
      open_lines.erase(open);
  }
  // Consecutive pieces of one stream of one task travel as one item.
  if (!outputs.empty() && outputs.back()["id"] == id && outputs.back()["stream"] == stream) {
    outputs.back()["text"].get_ref<std::string&>().append(text);
  } else {
    outputs.push_back({{"id", id}, {"stream", stream}, {"text", std::string(text)}});
  }
}

// A task ended after printing a line it did not end: the client shows that line now, before
// the task's result reaches it, rather than when it gives up waiting for the line's end.
void Worker::Impl::task_output_ended(TaskId id) {
  if (open_lines.erase(id)) outputs.push_back({{"id", id}, {"stream", "end"}, {"text", std::string()}});
}

void Worker::Impl::send_report() {
  if (!outputs.empty()) {
    // Output may not be valid UTF-8: it travels as msgpack binary.
    for (auto& item : outputs) {
      std::string text = item["text"].get<std::string>();
      item["text"] = json::binary(std::vector<std::uint8_t>(text.begin(), text.end()));
    }
    send_message(*server, Message(json{{"op", op::output}, {"items", std::move(outputs)}}));
    outputs = json::array();
  }
  if (report.empty()) return;
  send_message(*server, std::move(report).encode());
  report = FinishedBatch{};
}

}  // namespace treadle
