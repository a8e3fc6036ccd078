#include "../common/clock.hpp"
#include "worker.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include "../common/auth.hpp"
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
#include "resource_sampler.hpp"
#include "thread_pool.hpp"
#include "work_dir.hpp"

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

struct PendingTask {
  std::string type;
  std::string config;
  std::uint32_t cpus = 0;
  std::vector<TaskId> inputs;
  std::uint32_t missing = 0;
  bool running = false;
  bool cancelled = false;
  bool seceded = false;  // a Python task waiting on tasks it submitted: its cpus are free
  std::string checkpoint;  // write the result there too (HyperLoom's checkpoint_path)
};

// Where a task ran, for traces (FinishedBatch::lanes).
constexpr std::uint32_t lane_loop = 0, lane_thread = 1, lane_executor = 2;

struct ThreadResult {
  TaskId id;
  DataPtr data;
  std::string error;
  std::int64_t start_us, end_us;
  bool started = false;  // not a result: the task's program is running now (TaskContext::started)
};

}  // namespace

struct Worker::Impl {
  WorkerOptions options;
  TaskRegistry registry;
  std::atomic<bool> stop_requested{false};
  fs::path work_dir;
  std::unique_ptr<WorkDir> own_work_dir;  // locked while we live; removed at exit

  zmq::context_t context{1};
  std::unique_ptr<ZapAuthenticator> zap;
  std::unique_ptr<zmq::socket_t> server;    // DEALER to the server
  std::unique_ptr<zmq::socket_t> data;      // ROUTER other workers fetch from
  std::unordered_map<std::string, std::unique_ptr<zmq::socket_t>> peers;  // DEALERs by address
  std::string data_address;
  std::unique_ptr<DataStore> store;
  std::unique_ptr<ThreadPool<ThreadResult>> pool;
  std::unique_ptr<ExecutorPool> executors;
  ResourceSampler sampler{1};
  std::unordered_set<TaskId> on_executor;
  json outputs = json::array();  // what tasks printed or logged this loop turn
  log::Throttle malformed{"malformed messages"};  // a peer must not flood the log

  std::unordered_map<TaskId, PendingTask> tasks;
  std::unordered_map<TaskId, std::vector<TaskId>> waiting_for;  // input -> tasks needing it
  std::unordered_set<TaskId> fetching;
  std::unordered_map<TaskId, std::pair<std::string, std::int64_t>> fetch_started;  // peer, when
  std::deque<TaskId> runnable;
  // Signed: Python tasks waiting in an executor's pipe count before they start.
  std::int64_t free_cpus = 0;
  FinishedBatch report;
  std::uint64_t next_req = 1;
  std::int64_t server_seen_ms = 0;
  bool forgotten = false;  // the server no longer knows us (declared lost)

  void setup();
  std::vector<std::string> offered_types() const {
    auto types = registry.symbols();
    types.emplace_back(symbols::py_call);
    return types;
  }
  int loop();  // the exit code
  void on_server_message(Message& m);
  void on_compute(Message& m);
  void on_peer_request(const std::string& routing, Message& m);
  void on_peer_data(Message& m);
  void pack_objects(const std::vector<TaskId>& ids, Message& reply);
  void run_ready();
  void start(TaskId id, PendingTask& t, const TaskRegistry::Entry& entry);
  void complete(TaskId id, DataPtr data, std::int64_t start, std::int64_t end, std::uint32_t lane);
  void fail(TaskId id, const std::string& message, const std::string& exception = {});
  void arrived(TaskId id);
  zmq::socket_t& peer(const std::string& address);
  void send_report();
  void executor_finished(ExecutorResult& r);
  void task_output(TaskId id, const std::string& stream, std::string_view text);
  void task_seceded(TaskId id, bool seceded);
  void task_left_executor(TaskId id, PendingTask& t);
};

Worker::Worker(WorkerOptions options, TaskRegistry registry) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->registry = std::move(registry);
}

Worker::~Worker() = default;

void Worker::stop() { impl_->stop_requested = true; }

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
  std::string id = std::to_string(::getpid());
  if (options.work_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    own_work_dir = std::make_unique<WorkDir>(fs::path(tmp && *tmp ? tmp : "/tmp"), "treadle-worker-");
  } else {
    own_work_dir = std::make_unique<WorkDir>(fs::path(options.work_dir), "worker-");
  }
  work_dir = own_work_dir->path();
  store = std::make_unique<DataStore>(work_dir / "spill", options.memory_limit ? options.memory_limit : half_of_ram());
  free_cpus = options.cpus;
  sampler = ResourceSampler(options.cpus);
  pool = std::make_unique<ThreadPool<ThreadResult>>(options.cpus + 8);
  ExecutorEvents events;
  events.output = [this](TaskId id, const char* stream, std::string_view text) { task_output(id, stream, text); };
  events.log = [this](TaskId id, const std::string& level, const std::string& message) {
    log::info("task ", id, " [", level, "] ", message);
    task_output(id, "log:" + level, message);
  };
  events.seceded = [this](TaskId id, bool seceded) { task_seceded(id, seceded); };
  ExecutorHello hello{options.server_host + ":" + std::to_string(options.server_port), options.secret};
  executors = std::make_unique<ExecutorPool>(options.cpus, options.python, work_dir, std::move(hello), std::move(events));

  zap = std::make_unique<ZapAuthenticator>(context, options.secret);
  data = std::make_unique<zmq::socket_t>(context, zmq::socket_type::router);
  std::string host = options.listen_host.empty() ? address_towards(options.server_host) : options.listen_host;
  require_authentication(*data, options.secret, host);
  data->set(zmq::sockopt::linger, 0);
  data->set(zmq::sockopt::sndhwm, 0);
  data->bind("tcp://" + host + ":*");
  data_address = data->get(zmq::sockopt::last_endpoint);

  server = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
  const std::string server_endpoint = "tcp://" + options.server_host + ":" + std::to_string(options.server_port);
  authenticate_as_client(*server, options.secret, server_endpoint);
  server->set(zmq::sockopt::linger, 0);
  server->set(zmq::sockopt::sndhwm, 0);
  // With no server (refused handshake) a send waits at most this long, and the loop goes on
  // to notice the silence and exit.
  server->set(zmq::sockopt::sndtimeo, 2000);
  server->set(zmq::sockopt::rcvhwm, 0);
  server->connect(server_endpoint);

  char hostname[256] = "?";
  ::gethostname(hostname, sizeof hostname - 1);
  std::string name = std::string(hostname) + ":" + id;
  // A worker started by a batch job says which: treadle-cluster matches workers to jobs by it.
  if (!options.job.empty()) name += " (job " + options.job + ")";
  log::set_role("worker " + name);
  send_message(*server, Message(json{{"op", op::hello},
                                     {"role", "worker"},
                                     {"name", name},
                                     {"cpus", options.cpus},
                                     {"data_address", data_address},
                                     {"types", offered_types()}}));
  log::info("serving data at ", data_address, ", work dir ", work_dir.string());
}

int Worker::Impl::loop() {
  server_seen_ms = steady_ms();
  std::int64_t next_heartbeat = 0;
  bool welcomed = false;
  while (!stop_requested) {
    std::vector<zmq::pollitem_t> items = {{static_cast<void*>(*server), 0, ZMQ_POLLIN, 0},
                                          {static_cast<void*>(*data), 0, ZMQ_POLLIN, 0},
                                          {nullptr, pool->wake_fd(), ZMQ_POLLIN, 0}};
    std::vector<zmq::socket_t*> peer_sockets;
    for (auto& [address, socket] : peers) {
      items.push_back({static_cast<void*>(*socket), 0, ZMQ_POLLIN, 0});
      peer_sockets.push_back(socket.get());
    }
    const std::size_t first_executor_item = items.size();
    for (int fd : executors->poll_fds()) items.push_back({nullptr, fd, ZMQ_POLLIN, 0});
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(200));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;  // a signal: stop_requested says whether to go on
      throw;
    }

    if (items[0].revents & ZMQ_POLLIN) {
      for (int i = 0; i < 1024; ++i) {
        Message m;
        try {
          if (!recv_message(*server, m, nullptr, true)) break;
          server_seen_ms = steady_ms();
          if (m.op() == op::welcome) welcomed = true;
          on_server_message(m);
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
        } catch (const std::exception& e) {
          malformed.warn("peers fetching data", "bad request from a peer: ", e.what());
        }
      }
    }
    if (items[2].revents & ZMQ_POLLIN) {
      for (auto& r : pool->take_results()) {
        if (r.started) {
          auto it = tasks.find(r.id);
          if (it != tasks.end() && !it->second.cancelled) report.started.push_back(r.id);
          continue;
        }
        cancellation::forget(r.id);
        auto it = tasks.find(r.id);
        if (it == tasks.end()) continue;
        free_cpus += it->second.cpus;
        if (it->second.cancelled) {
          tasks.erase(it);
          continue;
        }
        if (r.data) complete(r.id, std::move(r.data), r.start_us, r.end_us, lane_thread);
        else fail(r.id, r.error);
      }
    }
    for (std::size_t i = 0; i < peer_sockets.size(); ++i) {
      if (!(items[3 + i].revents & ZMQ_POLLIN)) continue;
      for (int k = 0; k < 1024; ++k) {
        Message m;
        try {
          if (!recv_message(*peer_sockets[i], m, nullptr, true)) break;
          on_peer_data(m);
        } catch (const std::exception& e) {
          malformed.warn("peers it fetches from", "bad data from a peer: ", e.what());
        }
      }
    }
    std::vector<ExecutorResult> executor_results;
    for (std::size_t i = first_executor_item; i < items.size(); ++i)
      if (items[i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) executors->on_readable(items[i].fd, executor_results);
    for (auto& r : executor_results) executor_finished(r);
    run_ready();
    send_report();
    malformed.tick();

    std::int64_t now = steady_ms();
    if (now >= next_heartbeat) {
      // Each heartbeat carries a sample of the worker's cpu and memory use (docs/tracing.md).
      std::int64_t at = wall_us();
      ResourceSample r = sampler.sample(executors->pids(), at);
      send_message(*server, Message(json{{"op", op::heartbeat},
                                         {"t", at},
                                         {"cpu", r.cpu_percent},
                                         {"rss", r.rss},
                                         {"store", store->memory_bytes()},
                                         {"spilled", store->spilled_bytes()}}));
      next_heartbeat = now + 500;
    }
    if (now - server_seen_ms > options.server_timeout_ms) {
      if (welcomed) {
        log::warn("the server went silent; exiting");
        return 0;
      }
      log::error("no answer from the server at ", options.server_host, ":", options.server_port,
                 " (is it running there, and do both sides have the same secret?)");
      return 1;
    }
    if (forgotten) {
      log::error("the server declared this worker lost (it was unresponsive); exiting");
      return 1;
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
  if (op == op::compute) return on_compute(m);
  if (op == op::free) {
    for (TaskId id : fields::ids(m.header, "ids")) store->erase(id);
    return;
  }
  if (op == op::cancel) {
    for (TaskId id : fields::ids(m.header, "ids")) {
      auto it = tasks.find(id);
      if (it == tasks.end()) continue;
      // It no longer waits for its inputs; an input nobody waits for is no longer fetched, so
      // the task sent again (perhaps naming another holder) fetches it anew.
      for (TaskId in : it->second.inputs) {
        auto w = waiting_for.find(in);
        if (w == waiting_for.end()) continue;
        w->second.erase(std::remove(w->second.begin(), w->second.end(), id), w->second.end());
        if (w->second.empty()) {
          waiting_for.erase(w);
          fetching.erase(in);
          fetch_started.erase(in);
        }
      }
      if (on_executor.erase(id)) {
        std::vector<ExecutorResult> retry;
        executors->cancel(id, retry);  // a Python task is stopped (its executor replaced)
        task_left_executor(id, it->second);
        tasks.erase(it);
        for (auto& r : retry) executor_finished(r);
      } else if (it->second.running) {
        it->second.cancelled = true;  // its program is killed, its sleep woken; the result dropped
        cancellation::cancel(id);
      } else {
        tasks.erase(it);
      }
    }
    return;
  }
  if (op == op::alias) {
    // A redirected task's result is the result of the plan it returned: same object, two names.
    const json& pairs = fields::list(m.header, "pairs", fields::max_ids);
    for (auto& pair : pairs)
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_unsigned() || !pair[1].is_number_unsigned())
        throw ProtocolError("field 'pairs' must be a list of [from, to] task id pairs");
    for (auto& pair : pairs) {
      TaskId from = pair[0], to = pair[1];
      if (DataPtr d = store->find(from)) {
        store->put(to, d);
        report.aliased.push_back(to);  // only now may the server send others here for it
        arrived(to);
      }
    }
    return;
  }
  if (op == op::upload) {
    Message reply(json{{"op", op::data}, {"req", fields::unsigned_integer(m.header, "req")}});
    pack_objects(fields::ids(m.header, "ids"), reply);
    send_message(*server, std::move(reply));
    return;
  }
  if (op == op::error) {
    log::error("server: ", m.header.value("message", std::string()));
    if (m.header.value("code", std::string()) == "unknown_peer") forgotten = true;
    return;
  }
  if (op == op::welcome || op == op::heartbeat) return;
  log::warn("unknown op from the server: ", op);
}

void Worker::Impl::on_compute(Message& m) {
  ComputeBatch b = ComputeBatch::decode(m);
  std::unordered_map<TaskId, std::string> checkpoints(b.checkpoints.begin(), b.checkpoints.end());
  std::unordered_map<std::uint32_t, std::vector<TaskId>> to_fetch;  // peer index -> ids
  std::size_t pos = 0;
  for (std::size_t i = 0; i < b.ids.size(); ++i) {
    TaskId id = b.ids[i];
    PendingTask t;
    t.type = b.types[b.type_of[i]];
    t.config.assign(b.configs, b.config_offsets[i], b.config_offsets[i + 1] - b.config_offsets[i]);
    t.cpus = b.cpus[i];
    if (!checkpoints.empty()) {
      auto cp = checkpoints.find(id);
      if (cp != checkpoints.end()) t.checkpoint = std::move(cp->second);
    }
    for (std::uint32_t k = 0; k < b.input_counts[i]; ++k, ++pos) {
      TaskId in = b.inputs[pos];
      t.inputs.push_back(in);
      if (store->contains(in)) continue;
      auto& waiters = waiting_for[in];
      // An input named twice (merge((a, a))) is awaited once.
      if (std::find(waiters.begin(), waiters.end(), id) != waiters.end()) continue;
      waiters.push_back(id);
      ++t.missing;
      if (b.input_where[pos] != ComputeBatch::local && fetching.insert(in).second)
        to_fetch[b.input_where[pos]].push_back(in);
    }
    bool ready = t.missing == 0;
    tasks[id] = std::move(t);
    if (ready) runnable.push_back(id);
  }
  for (auto& [peer_index, ids] : to_fetch) {
    const std::string& address = b.peers[peer_index];
    std::int64_t now = wall_us();
    for (TaskId in : ids) fetch_started[in] = {address, now};
    send_message(peer(address), Message(json{{"op", op::peer_fetch}, {"req", next_req++}, {"ids", ids}}));
  }
}

zmq::socket_t& Worker::Impl::peer(const std::string& address) {
  auto& socket = peers[address];
  if (!socket) {
    socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
    authenticate_as_client(*socket, options.secret, address);
    socket->set(zmq::sockopt::linger, 0);
    socket->set(zmq::sockopt::rcvhwm, 0);
    socket->connect(address);
  }
  return *socket;
}

void Worker::Impl::pack_objects(const std::vector<TaskId>& ids, Message& reply) {
  std::vector<ObjectEntry> objects;
  objects.reserve(ids.size());
  for (TaskId id : ids) objects.push_back({id, store->find(id)});
  encode_objects(objects, reply.header, reply.frames);
}

void Worker::Impl::on_peer_request(const std::string& routing, Message& m) {
  if (m.op() != op::peer_fetch) return;
  Message reply(json{{"op", op::data}, {"req", fields::unsigned_integer(m.header, "req")}});
  pack_objects(fields::ids(m.header, "ids"), reply);
  send_message(*data, std::move(reply), routing);
}

void Worker::Impl::on_peer_data(Message& m) {
  if (m.op() != op::data) return;
  for (auto& [id, data] : decode_objects(m.header, m.frames)) {
    fetching.erase(id);
    if (!data) {
      fetch_started.erase(id);
      auto waiters = std::move(waiting_for[id]);
      waiting_for.erase(id);
      for (TaskId t : waiters)
        if (tasks.count(t)) fail(t, "input task " + std::to_string(id) + " was no longer on the worker that had it");
      continue;
    }
    auto started = fetch_started.find(id);
    if (!waiting_for.count(id)) {  // nobody needs it any more (cancelled meanwhile)
      if (started != fetch_started.end()) fetch_started.erase(started);
      continue;
    }
    std::string from = started != fetch_started.end() ? started->second.first : std::string("?");
    std::int64_t since = started != fetch_started.end() ? started->second.second : wall_us();
    if (started != fetch_started.end()) fetch_started.erase(started);
    auto peer_index = std::find(report.transfer_peers.begin(), report.transfer_peers.end(), from);
    if (peer_index == report.transfer_peers.end()) peer_index = report.transfer_peers.insert(peer_index, from);
    report.replicas.push_back(id);
    report.transfer_from.push_back(static_cast<std::uint32_t>(peer_index - report.transfer_peers.begin()));
    report.transfer_sizes.push_back(data->size());
    report.transfer_start_us.push_back(since);
    report.transfer_end_us.push_back(wall_us());
    store->put(id, std::move(data));
    arrived(id);
  }
}

void Worker::Impl::arrived(TaskId id) {
  auto it = waiting_for.find(id);
  if (it == waiting_for.end()) return;
  std::vector<TaskId> waiters = std::move(it->second);
  waiting_for.erase(it);
  for (TaskId w : waiters) {
    auto t = tasks.find(w);
    if (t != tasks.end() && t->second.missing > 0 && --t->second.missing == 0) runnable.push_back(w);
  }
}

void Worker::Impl::run_ready() {
  // Inline tasks complete here and may make more tasks runnable: keep going until none are.
  std::size_t blocked = 0;
  while (runnable.size() > blocked) {
    TaskId id = runnable.front();
    runnable.pop_front();
    auto it = tasks.find(id);
    if (it == tasks.end() || it->second.running) continue;  // cancelled
    PendingTask& t = it->second;
    if (t.type == symbols::py_call) {
      if (!executors->has_idle()) {
        runnable.push_back(id);
        ++blocked;
        continue;
      }
      std::vector<DataPtr> inputs;
      for (TaskId in : t.inputs) inputs.push_back(store->find(in));
      if (inputs.empty() || std::find(inputs.begin(), inputs.end(), nullptr) != inputs.end()) {
        fail(id, inputs.empty() ? "loom/py/call needs the callable as its first input" : "an input is missing on this worker");
        continue;
      }
      free_cpus -= t.cpus;
      t.running = true;
      report.started.push_back(id);
      on_executor.insert(id);
      executors->run(id, inputs, t.inputs, t.config);
      continue;
    }
    const TaskRegistry::Entry* entry = registry.find(t.type);
    if (!entry) {
      fail(id, "this worker has no task type '" + t.type + "'");
      continue;
    }
    bool threaded = entry->threading == Threading::own_thread;
    if (entry->threading == Threading::inline_if_small) {
      std::uint64_t bytes = 0;
      for (TaskId in : t.inputs)
        if (auto d = store->find(in)) bytes += d->size();
      threaded = bytes > (1u << 20);
    }
    if (threaded && static_cast<std::int64_t>(t.cpus) > free_cpus) {
      runnable.push_back(id);  // wait for cpus; others may still run
      ++blocked;
      continue;
    }
    if (threaded) {
      free_cpus -= t.cpus;
      t.running = true;
      // A program is reported running once it exists, not while it is being started.
      if (t.type != symbols::run) report.started.push_back(id);
    }
    start(id, t, *entry);
  }
}

void Worker::Impl::start(TaskId id, PendingTask& t, const TaskRegistry::Entry& entry) {
  TaskContext ctx;
  ctx.id = id;
  ctx.work_dir = work_dir;
  for (TaskId in : t.inputs) {
    DataPtr d = store->find(in);
    if (!d) return fail(id, "input task " + std::to_string(in) + " is missing on this worker");
    ctx.inputs.push_back(std::move(d));
  }
  if (t.running) {
    auto run = entry.run;
    auto type = t.type, config = t.config;
    auto inputs = std::move(ctx.inputs);
    ThreadPool<ThreadResult>* threads = pool.get();
    pool->submit([id, run, type, config, inputs = std::move(inputs), dir = work_dir, threads]() mutable {
      ThreadResult r{id, nullptr, {}, wall_us(), 0};
      TaskContext c;
      c.id = id;
      c.type = type;
      c.config = config;
      c.inputs = std::move(inputs);
      c.work_dir = dir;
      if (type == symbols::run) c.started = [threads, id] {
        ThreadResult news{id, nullptr, {}, 0, 0};
        news.started = true;
        threads->post(std::move(news));
      };
      try {
        r.data = run(c);
        if (!r.data) r.error = "the task produced no data";
      } catch (const std::exception& e) {
        r.error = e.what();
      }
      r.end_us = wall_us();
      return r;
    });
    return;
  }
  ctx.type = t.type;
  ctx.config = t.config;
  std::int64_t begin = wall_us();
  try {
    DataPtr out = entry.run(ctx);
    if (!out) return fail(id, "the task produced no data");
    complete(id, std::move(out), begin, wall_us(), lane_loop);
  } catch (const std::exception& e) {
    fail(id, e.what());
  }
}

void Worker::Impl::complete(TaskId id, DataPtr data, std::int64_t start_us, std::int64_t end_us,
                            std::uint32_t lane) {
  auto it = tasks.find(id);
  if (it != tasks.end() && !it->second.checkpoint.empty()) {
    try {
      write_checkpoint(it->second.checkpoint, id, data);
    } catch (const std::exception& e) {
      return fail(id, e.what());
    }
  }
  report.ids.push_back(id);
  report.lanes.push_back(lane);
  report.sizes.push_back(data->size());
  report.lengths.push_back(data->length());
  report.kinds.push_back(static_cast<std::uint8_t>(static_cast<std::uint8_t>(data->kind()) |
                                                   (data->has_pieces() ? FinishedBatch::has_pieces_bit : 0)));
  report.start_us.push_back(start_us);
  report.end_us.push_back(end_us);
  store->put(id, std::move(data));
  tasks.erase(id);
  arrived(id);
}

void Worker::Impl::fail(TaskId id, const std::string& message, const std::string& exception) {
  tasks.erase(id);
  send_report();  // keep the order: results before this failure
  json header{{"op", op::task_failed}, {"id", id}, {"message", message}};
  if (!exception.empty()) header["exception"] = json::binary(std::vector<std::uint8_t>(exception.begin(), exception.end()));
  send_message(*server, Message(std::move(header)));
}

void Worker::Impl::executor_finished(ExecutorResult& r) {
  auto it = tasks.find(r.id);
  if (!on_executor.erase(r.id) || it == tasks.end()) return;  // cancelled meanwhile
  task_left_executor(r.id, it->second);
  if (r.retry) {
    it->second.running = false;
    runnable.push_back(r.id);
    return;
  }
  if (!r.error.empty()) return fail(r.id, r.error, r.exception);
  if (!r.redirect.is_null()) {
    // The task returned a plan to run in its place: the server splices it in.
    Message m(json{{"op", op::redirect}, {"id", r.id}, {"types", r.redirect["types"]}, {"labels", r.redirect["labels"]}});
    for (auto& frame : r.redirect_frames) m.frames.emplace_back(frame.data(), frame.size());
    tasks.erase(it);
    send_report();
    send_message(*server, std::move(m));
    return;
  }
  complete(r.id, std::move(r.data), r.start_us, r.end_us, lane_executor + r.executor);
}

// A Python task waits on futures (seceded) or its wait ended (rejoined): its cpus are free
// meanwhile, here and for the server's placement.
void Worker::Impl::task_seceded(TaskId id, bool seceded) {
  auto it = tasks.find(id);
  if (it == tasks.end() || !on_executor.count(id) || it->second.seceded == seceded) return;
  it->second.seceded = seceded;
  free_cpus += seceded ? std::int64_t(it->second.cpus) : -std::int64_t(it->second.cpus);
  send_report();  // keep the order: what it reported before comes first
  send_message(*server, Message(json{{"op", seceded ? op::seceded : op::rejoined}, {"id", id}}));
}

// The task no longer runs on an executor (it ended, failed, is cancelled or will be run again):
// its cpus are free, unless it gave them back when it seceded.
void Worker::Impl::task_left_executor(TaskId id, PendingTask& t) {
  if (t.seceded) {
    t.seceded = false;
    // The server counts its cpus free already; a task run again holds them anew.
    send_message(*server, Message(json{{"op", op::rejoined}, {"id", id}}));
    return;
  }
  free_cpus += t.cpus;
}

void Worker::Impl::task_output(TaskId id, const std::string& stream, std::string_view text) {
  if (id == no_producer) {
    log::info("executor ", stream, ": ", text);
    return;
  }
  // Consecutive pieces of one stream of one task travel as one item.
  if (!outputs.empty() && outputs.back()["id"] == id && outputs.back()["stream"] == stream) {
    outputs.back()["text"].get_ref<std::string&>().append(text);
  } else {
    outputs.push_back({{"id", id}, {"stream", stream}, {"text", std::string(text)}});
  }
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
