// treadle._engine: the C++ engine as seen from Python. The treadle package builds its APIs
// (treadle.loom.client, the native API, the kernel's magics) on these few calls.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <type_traits>

#include "client/connection.hpp"
#include "common/auth.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "data/array.hpp"
#include "data/index.hpp"
#include "data/pyobj.hpp"
#include "data/wire.hpp"
#include "server/server.hpp"

namespace py = pybind11;
using namespace treadle;

namespace {

// Events the connection received, sorted for Python: output goes to the handler as
// (task, label, stream, bytes) tuples; settled futures are kept for settled().
// `notice(kind, seconds)`, if set, hears about a server silent that long with its connection
// open ("silent", once per wait, after `silence_notice`) and about its answer after that
// ("answered", only if it did answer: not when the wait ended because the connection was
// lost): the caller says so and waits on.
struct EventSink {
  py::object output_handler = py::none();
  std::vector<TaskId> finished, failed, cancelled;
  py::object notice = py::none();
  std::chrono::milliseconds silence_notice{12000};
};

void deliver_events(Connection& conn, EventSink& sink) {
  if (!conn.has_events()) return;
  py::list items;
  for (Message& m : conn.take_events()) {
    if (m.op() == op::settled) {
      for (auto& id : m.header.at("finished")) sink.finished.push_back(id.get<TaskId>());
      for (auto& id : m.header.at("failed")) sink.failed.push_back(id.get<TaskId>());
      if (m.header.contains("cancelled"))
        for (auto& id : m.header.at("cancelled")) sink.cancelled.push_back(id.get<TaskId>());
      continue;
    }
    if (sink.output_handler.is_none()) continue;
    for (auto& item : m.header.at("items")) {
      const auto& text = item.at("text");
      std::string bytes = text.is_binary() ? std::string(text.get_binary().begin(), text.get_binary().end())
                                           : text.get<std::string>();
      items.append(py::make_tuple(item.value("id", TaskId{0}), item.value("label", std::string()),
                                  item.value("stream", std::string()), py::bytes(bytes)));
    }
  }
  if (py::len(items)) sink.output_handler(items);
}

// Connections a finalizer closed, whose sockets close (and may linger) on threads of their own.
// The process waits for them at exit (std::atexit, after Python finalized: bounded by the
// linger), so a bye still leaves. Never destroyed: a thread may still hold it then.
struct BackgroundCloses {
  std::mutex mutex;
  std::condition_variable ended;
  int running = 0;
  std::uint64_t total = 0;  // ever started: tests read it (closed_by_finalizer)
};
BackgroundCloses& background_closes() {
  static BackgroundCloses* closes = [] {
    auto* made = new BackgroundCloses;
    std::atexit([] {
      auto& c = background_closes();
      std::unique_lock<std::mutex> lock(c.mutex);
      c.ended.wait_for(lock, std::chrono::milliseconds(2500), [&c] { return c.running == 0; });
    });
    return made;
  }();
  return *closes;
}

void closing_in_background(std::shared_ptr<Connection> conn) {
  auto& closes = background_closes();
  {
    std::lock_guard<std::mutex> lock(closes.mutex);
    ++closes.running;
    ++closes.total;
  }
  std::thread([conn = std::move(conn), &closes]() mutable {
    conn.reset();
    std::lock_guard<std::mutex> lock(closes.mutex);
    --closes.running;
    closes.ended.notify_all();
  }).detach();
}

// Runs `f` without the GIL. Not with py::gil_scoped_release: when the interpreter exits while
// a daemon thread waits here, taking the GIL back ends that thread with pthread_exit, and the
// unwinding must not start in a destructor (noexcept: "terminate called without an active
// exception", SIGABRT). Here it unwinds through ordinary frames, as a Python thread's would.
template <class F>
auto without_gil(F&& f) -> decltype(f()) {
  PyThreadState* state = PyEval_SaveThread();
  auto run = [&]() -> decltype(f()) {
    try {
      return f();
    } catch (...) {
      PyEval_RestoreThread(state);
      throw;
    }
  };
  if constexpr (std::is_void_v<decltype(f())>) {
    run();
    PyEval_RestoreThread(state);
  } else {
    auto result = run();
    PyEval_RestoreThread(state);
    return result;
  }
}

// Waits for a reply without holding the GIL; every 50 ms it checks for Ctrl-C and passes on
// what tasks printed, so output appears while the caller waits. `limit_s` > 0: a reply that
// takes longer is given up (ServerError; the late reply is dropped), for a caller that must
// not wait on a server that may be gone (a repr).
void wait_interruptibly(Connection& conn, Reply& reply, EventSink& handler, double limit_s = 0) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(static_cast<long>(limit_s * 1e6));
  std::chrono::milliseconds noticed{0};  // the silence told of in this wait
  auto tell = [&handler](const char* kind, std::chrono::milliseconds silence) {
    if (!handler.notice.is_none()) handler.notice(kind, static_cast<double>(silence.count()) / 1000.0);
  };
  while (true) {
    auto slice = std::chrono::milliseconds(50);
    if (limit_s > 0)
      slice = std::min(slice, std::chrono::duration_cast<std::chrono::milliseconds>(
                                  deadline - std::chrono::steady_clock::now() + std::chrono::milliseconds(1)));
    bool done = without_gil([&] { return reply.wait_for(std::max(slice, std::chrono::milliseconds(0))); });
    deliver_events(conn, handler);
    const auto silence = conn.server_silent();
    if (!done && silence >= handler.silence_notice && silence >= noticed) {
      if (noticed.count() == 0) tell("silent", silence);
      noticed = silence;  // the longest silence of this wait, for the answer's line
    } else if (noticed.count() > 0 && conn.connected()) {
      tell("answered", noticed);
      noticed = std::chrono::milliseconds(0);
    }
    if (done) return;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (limit_s > 0 && std::chrono::steady_clock::now() >= deadline)
      throw ServerError("the server did not answer within " + std::to_string(limit_s) + " s");
  }
}

[[noreturn]] void raise_error(Message& m) {
  std::string message = m.header.value("message", std::string("the server answered '" + m.op() + "'"));
  // Keep the exception's text valid UTF-8 (it may quote a program's output).
  PyObject* clean = PyUnicode_DecodeUTF8(message.data(), static_cast<Py_ssize_t>(message.size()), "replace");
  if (clean) {
    message = PyUnicode_AsUTF8(clean);
    Py_DECREF(clean);
  }
  throw ServerError(message);
}

// `loads` is pickle.loads, looked up once per fetch rather than once per object.
py::object to_python(const DataPtr& d, const py::object& loads) {
  switch (d->kind()) {
    case DataKind::plain:
    case DataKind::file: {
      auto raw = d->raw();
      return py::bytes(raw.data(), raw.size());
    }
    case DataKind::array:
    case DataKind::index: {
      py::list out;
      for (std::size_t i = 0; i < d->length(); ++i) out.append(to_python(d->get(i), loads));
      return std::move(out);
    }
    case DataKind::pyobj: {
      auto raw = static_cast<const PyObjData&>(*d).pickled()->raw();
      return loads(py::memoryview::from_memory(raw.data(), static_cast<py::ssize_t>(raw.size())));
    }
  }
  throw std::logic_error("unknown data kind");
}

zmq::message_t frame(const py::bytes& b) {
  std::string_view v = b;
  return zmq::message_t(v.data(), v.size());
}

// Text from the engine as str, whatever a program wrote to its stderr (invalid UTF-8 is replaced).
py::str text(const std::string& bytes) {
  return py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), "replace"));
}

py::dict failure_dict(const Message& m) {
  py::dict d;
  d["task"] = m.header.value("task", TaskId{0});
  d["origin"] = m.header.value("origin", TaskId{0});
  d["label"] = text(m.header.value("label", std::string()));
  d["type"] = text(m.header.value("type", std::string()));
  d["message"] = text(m.header.value("message", std::string()));
  // A Python task's exception, packed (see treadle.remote_exception); None if it did not travel.
  d["exception"] = py::none();
  if (auto it = m.header.find("exception"); it != m.header.end() && it->is_binary())
    d["exception"] = py::bytes(reinterpret_cast<const char*>(it->get_binary().data()), it->get_binary().size());
  return d;
}

class PyConnection {
 public:
  // `notice(kind, seconds)` (or None): told "connecting" once when the welcome has not come
  // after a second, and about a silent server during waits (EventSink).
  PyConnection(const std::string& host, int port, const std::string& secret, const std::string& name, double timeout,
               double server_timeout, py::object notice) {
    std::string s = secret.empty() ? load_secret() : secret;
    sink_.notice = notice;
    sink_.silence_notice = std::chrono::milliseconds(static_cast<long>(server_timeout * 1000));
    // On the main thread (the one signals reach), Ctrl-C ends the wait for the server's welcome
    // within 50 ms: the handler runs with the GIL taken for the check, and its exception
    // (KeyboardInterrupt) stays set for error_already_set below. On any thread, a wait past
    // the first second is told to `notice`, once.
    auto threading = py::module_::import("threading");
    bool main_thread = threading.attr("current_thread")().is(threading.attr("main_thread")());
    const auto start = std::chrono::steady_clock::now();
    bool told = notice.is_none();
    std::function<bool()> interrupted = [main_thread, start, &told, &notice]() {
      bool tell = !told && std::chrono::steady_clock::now() - start >= std::chrono::seconds(1);
      if (!main_thread && !tell) return false;
      PyGILState_STATE gil = PyGILState_Ensure();
      bool raised = main_thread && PyErr_CheckSignals() != 0;
      if (tell && !raised) {
        told = true;
        try {
          notice("connecting", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        } catch (py::error_already_set& e) {
          e.restore();   // raised in the callback: it ends the wait as a Ctrl-C would
          raised = true;
        }
      }
      PyGILState_Release(gil);
      return raised;
    };
    try {
      conn_ = without_gil([&] {
        return std::make_shared<Connection>(host, port, s, name,
                                            std::chrono::milliseconds(static_cast<long>(timeout * 1000)),
                                            std::chrono::milliseconds(static_cast<long>(server_timeout * 1000)),
                                            interrupted);
      });
    } catch (const ConnectInterrupted&) {
      throw py::error_already_set();
    }
  }

  TaskId submit(const std::vector<std::string>& types, const std::vector<std::string>& labels,
                const py::bytes& type_of, const py::bytes& cpus, const py::bytes& input_counts, const py::bytes& inputs,
                const py::bytes& config_offsets, const py::bytes& configs, const py::bytes& label_of,
                const py::bytes& keep, const std::vector<std::pair<std::uint32_t, std::string>>& checkpoints,
                const std::vector<std::tuple<std::uint32_t, std::vector<std::string>, std::vector<std::string>>>& outputs) {
    Message m(json{{"op", op::submit}, {"types", types}, {"labels", labels}});
    if (!checkpoints.empty()) m.header["checkpoints"] = checkpoints;  // [[plan index, path], ...]
    if (!outputs.empty()) {  // [[plan index, [label...], [content type...]], ...]
      json list = json::array();
      for (auto& [local, output_labels, content_types] : outputs) list.push_back({local, output_labels, content_types});
      m.header["outputs"] = std::move(list);
    }
    for (auto* b : {&type_of, &cpus, &input_counts, &inputs, &config_offsets, &configs, &label_of, &keep})
      m.frames.push_back(frame(*b));
    auto conn = live();
    auto reply = conn->request(std::move(m));
    wait_interruptibly(*conn, *reply, sink_);
    Message& r = reply->messages().back();
    if (r.op() != op::submitted) raise_error(r);
    return r.header.at("base").get<TaskId>();
  }

  // None when every task finished, else a dict describing the failure.
  py::object wait(const std::vector<TaskId>& ids) {
    if (ids.empty()) return py::none();
    auto conn = live();
    auto reply = conn->request(Message(json{{"op", op::wait}, {"ids", ids}}));
    wait_interruptibly(*conn, *reply, sink_);
    Message& r = reply->messages().back();
    if (r.op() == op::done) return py::none();
    if (r.op() == op::failed) return failure_dict(r);
    raise_error(r);
  }

  // (list of values in the order of ids, None) or (None, failure dict).
  py::tuple fetch(const std::vector<TaskId>& ids) {
    if (ids.empty()) return py::make_tuple(py::list(), py::none());
    auto conn = live();
    auto reply = conn->request(Message(json{{"op", op::fetch}, {"ids", ids}}), ids.size());
    wait_interruptibly(*conn, *reply, sink_);
    std::unordered_map<TaskId, py::object> values;
    py::object loads = py::module_::import("pickle").attr("loads");
    for (Message& m : reply->messages()) {
      if (m.op() == op::failed) return py::make_tuple(py::none(), failure_dict(m));
      if (m.op() != op::data) raise_error(m);
      for (auto& [id, data] : decode_objects(m.header, m.frames)) {
        if (!data) throw ServerError("the result of task " + std::to_string(id) + " was lost before it could be fetched");
        values[id] = to_python(data, loads);
      }
    }
    py::list out;
    for (TaskId id : ids) out.append(values.at(id));
    return py::make_tuple(out, py::none());
  }

  void release(const std::vector<TaskId>& ids, bool when_done) {
    if (ids.empty() || !conn_) return;
    std::shared_ptr<Connection> conn = conn_;
    conn->release(ids, when_done);
  }

  // Releases those of `ids` whose tasks have not ended and says what that cancelled:
  // {"cancelled": tasks the server cancelled (inputs nobody else needs included), "ended": the
  // ids it kept because their tasks had finished or failed, "unheld": ids that were not the
  // client's futures (any more): a future released "when done" whose task has finished}.
  py::dict cancel(const std::vector<TaskId>& ids) {
    py::dict out;
    out["cancelled"] = 0;
    out["ended"] = py::list();
    out["unheld"] = py::list();
    if (ids.empty() || !conn_) return out;
    auto conn = live();
    auto reply = conn->request(Message(json{{"op", op::cancel}, {"ids", ids}}));
    wait_interruptibly(*conn, *reply, sink_);
    Message& r = reply->messages().back();
    if (r.op() != op::cancelled) raise_error(r);
    out["cancelled"] = r.header.value("cancelled", std::uint64_t{0});
    out["ended"] = r.header.value("ended", std::vector<TaskId>{});
    out["unheld"] = r.header.value("unheld", std::vector<TaskId>{});
    return out;
  }

  // Recent trace events; `path` (if given) makes the server record everything into it.
  // `kinds` (a list of kind names) keeps only those, e.g. ["sample"].
  py::object trace(std::size_t limit, py::object path, py::object kinds) {
    json h{{"op", op::trace}, {"limit", limit}};
    if (!path.is_none()) h["path"] = path.cast<std::string>();
    if (!kinds.is_none()) h["kinds"] = kinds.cast<std::vector<std::string>>();
    auto conn = live();
    auto reply = conn->request(Message(std::move(h)));
    wait_interruptibly(*conn, *reply, sink_);
    Message& r = reply->messages().back();
    if (r.op() != op::trace_reply) raise_error(r);
    r.header.erase("op");
    r.header.erase("req");
    return py::module_::import("json").attr("loads")(r.header.dump(-1, ' ', false, json::error_handler_t::replace));
  }

  // The scheduler state of each task, in the order of ids ("unknown" for ids it never gave out).
  // `timeout` > 0: ServerError if the answer takes longer.
  py::list states(const std::vector<TaskId>& ids, double timeout) {
    py::list out;
    if (ids.empty()) return out;
    auto conn = live();
    auto reply = conn->request(Message(json{{"op", op::states}, {"ids", ids}}));
    wait_interruptibly(*conn, *reply, sink_, timeout);
    Message& r = reply->messages().back();
    if (r.op() != op::states_reply) raise_error(r);
    std::vector<py::str> names;
    for (auto& n : r.header.at("names")) names.emplace_back(n.get<std::string>());
    const auto& codes = r.header.at("codes").get_binary();
    if (codes.size() != ids.size()) throw ServerError("the server answered states for the wrong number of tasks");
    py::str unknown("unknown");
    for (std::uint8_t c : codes) out.append(c < names.size() ? names[c] : unknown);
    return out;
  }

  // Each task's recent transitions and, for one still waiting, why (docs/protocol.md, `story`):
  // a list of dicts in the order of ids.
  py::object story(const std::vector<TaskId>& ids) {
    if (ids.empty()) return py::list();
    auto conn = live();
    auto reply = conn->request(Message(json{{"op", op::story}, {"ids", ids}}));
    wait_interruptibly(*conn, *reply, sink_);
    Message& r = reply->messages().back();
    if (r.op() != op::story_reply) raise_error(r);
    const json& stories = r.header.at("stories");
    if (!stories.is_array() || stories.size() != ids.size())
      throw ServerError("the server answered stories for the wrong number of tasks");
    // Failure messages may quote a program's output: invalid UTF-8 is replaced, never refused.
    return py::module_::import("json").attr("loads")(stories.dump(-1, ' ', false, json::error_handler_t::replace));
  }

  py::object status(bool ids) {
    json header = {{"op", op::status}};
    if (ids) header["ids"] = true;
    auto conn = live();
    auto reply = conn->request(Message(std::move(header)));
    wait_interruptibly(*conn, *reply, sink_);
    Message& r = reply->messages().back();
    if (r.op() != op::status_reply) raise_error(r);
    r.header.erase("op");
    r.header.erase("req");
    return py::module_::import("json").attr("loads")(r.header.dump());
  }

  // Workers leave after handing off the objects still needed (docs/protocol.md, `retire`):
  // the names of those now retiring.
  std::vector<std::string> retire(const std::vector<std::uint64_t>& workers) {
    auto conn = live();
    auto reply = conn->request(Message(json{{"op", op::retire}, {"workers", workers}}));
    wait_interruptibly(*conn, *reply, sink_);
    Message& r = reply->messages().back();
    if (r.op() != op::retiring) raise_error(r);
    return r.header.at("workers").get<std::vector<std::string>>();
  }

  // Closing waits for nothing when the server is gone (Connection::close: its socket drops what
  // is unsent); with a live server, the socket's closing lets the bye out (milliseconds).
  void close() {
    // Taken out with the GIL held, so a call starting on another thread finds it closed; a call
    // already waiting holds its own reference, and the close fails its wait (live()).
    std::shared_ptr<Connection> conn = std::move(conn_);
    if (!conn) return;
    without_gil([&] {
      conn->close();
      close_linger_ms_ = conn->close_linger_ms();
      conn.reset();
    });
  }
  // The finalizer (the garbage collector, or the last reference dropped) runs on whatever thread
  // the collector interrupted, with the GIL held: it says bye and stops the I/O thread (at once),
  // and the socket's closing, which may wait for the bye to leave, happens on a thread of its own.
  ~PyConnection() {
    if (!conn_) return;
    conn_->close();
    closing_in_background(std::move(conn_));
  }
  int close_linger_ms() const { return close_linger_ms_; }
  bool connected() const { return conn_ && conn_->connected(); }
  std::string server_instance() const { return conn_ ? conn_->server_instance() : std::string(); }
  // Called with a list of (task, label, stream, bytes) for what tasks printed or logged.
  void set_output_handler(py::object handler) { sink_.output_handler = std::move(handler); }
  void poll_output() {
    if (std::shared_ptr<Connection> conn = conn_) deliver_events(*conn, sink_);
  }
  void watch(const std::vector<TaskId>& ids) {
    if (!ids.empty()) live()->post(Message(json{{"op", op::watch}, {"ids", ids}}));
  }
  // Futures that ended since the last call, as (finished ids, failed ids, cancelled ids); waits
  // up to `timeout` seconds for some (checking for Ctrl-C), 0 = just look.
  py::tuple settled(double timeout) {
    auto conn = live();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(static_cast<long>(timeout * 1e6));
    while (true) {
      deliver_events(*conn, sink_);
      if (!sink_.finished.empty() || !sink_.failed.empty() || !sink_.cancelled.empty() ||
          std::chrono::steady_clock::now() >= deadline)
        break;
      without_gil([&] { conn->wait_for_events(std::chrono::milliseconds(50)); });
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      // The connection's own words (its address, the reason), as every other call says them.
      if (!conn->connected()) {
        const std::string why = conn->lost_reason();
        throw ServerError(why.empty() ? "lost the connection to the treadle server" : why);
      }
    }
    py::tuple out = py::make_tuple(sink_.finished, sink_.failed, sink_.cancelled);
    sink_.finished.clear();
    sink_.failed.clear();
    sink_.cancelled.clear();
    return out;
  }

 private:
  // The connection, or ServerError once closed. Each call holds its own reference while it
  // waits: a close() on another thread then fails that wait ("the connection is closed")
  // rather than freeing the connection under it.
  std::shared_ptr<Connection> live() const {
    std::shared_ptr<Connection> conn = conn_;
    if (!conn) throw ServerError("the connection is closed");
    return conn;
  }

  std::shared_ptr<Connection> conn_;
  EventSink sink_;
  int close_linger_ms_ = -1;
};

class PyServer {
 public:
  PyServer(const std::string& host, int port, const std::string& secret, int worker_timeout_ms, int client_grace) {
    if (client_grace < 0) throw py::value_error("client_grace must be a number of seconds >= 0");
    ServerOptions o;
    o.host = host;
    o.port = port;
    o.secret = secret;
    o.worker_timeout_ms = worker_timeout_ms;
    o.client_grace_s = client_grace;
    server_ = std::make_unique<Server>(o);
  }
  void start() {
    without_gil([&] { server_->start(); });
  }
  void stop() {
    without_gil([&] { server_->stop(); });
  }
  int port() const { return server_->port(); }
  const std::string& host() const { return server_->host(); }
  bool running() const { return server_->running(); }

 private:
  std::unique_ptr<Server> server_;
};

}  // namespace

PYBIND11_MODULE(_engine, m) {
  m.doc() = "treadle's C++ engine: server, client connection and secret handling";
  py::register_exception<ServerError>(m, "ServerError", PyExc_RuntimeError);

  py::class_<PyConnection>(m, "Connection")
      .def(py::init<const std::string&, int, const std::string&, const std::string&, double, double, py::object>(),
           py::arg("host"),
           py::arg("port"), py::arg("secret") = "", py::arg("name") = "python", py::arg("timeout") = 10.0,
           py::arg("server_timeout") = 12.0, py::arg("notice") = py::none())
      .def("submit", &PyConnection::submit, py::arg("types"), py::arg("labels"), py::arg("type_of"), py::arg("cpus"),
           py::arg("input_counts"), py::arg("inputs"), py::arg("config_offsets"), py::arg("configs"),
           py::arg("label_of"), py::arg("keep"), py::arg("checkpoints"),
           py::arg("outputs") = std::vector<std::tuple<std::uint32_t, std::vector<std::string>, std::vector<std::string>>>{},
           "Submits a plan's columns (docs/protocol.md); `outputs`: (plan index, labels, content types) of the "
           "tasks that have not exactly one unnamed output.")
      .def("wait", &PyConnection::wait)
      .def("fetch", &PyConnection::fetch)
      .def("release", &PyConnection::release, py::arg("ids"), py::arg("when_done") = false,
           "Drops the client's futures; with when_done, those whose tasks have not ended go when they finish "
           "(a failed task's stay). Sent in batches: with the next other call, or within 5 ms.")
      .def("cancel", &PyConnection::cancel, "Releases the ids whose tasks have not ended; returns {cancelled, ended, unheld} as the server counted them.")
      .def("status", &PyConnection::status, py::arg("ids") = false)
      .def("retire", &PyConnection::retire)
      .def("states", &PyConnection::states, py::arg("ids"), py::arg("timeout") = 0.0,
           "The scheduler state of each task id, in order: waiting, ready, assigned, running, redirected, "
           "finished, failed, released (finished, result freed), cancelled (nobody needed it before it finished), "
           "or unknown. timeout > 0: raises if the answer takes longer (seconds).")
      .def("story", &PyConnection::story, py::arg("ids"),
           "Per task id, in order: its recent transitions {time_us, from, to, reason, worker, placement}, "
           "state, label, submitted_us, why (not running now, for a waiting task), failure and note (rolled over).")
      .def("trace", &PyConnection::trace, py::arg("limit") = 100000, py::arg("path") = py::none(),
           py::arg("kinds") = py::none())
      .def("close", &PyConnection::close)
      .def_property_readonly("close_linger_ms", &PyConnection::close_linger_ms,
                             "The linger (ms) close() gave unsent messages: 2000 with the server's connection open, "
                             "0 with it closed (a server gone), -1 before close().")
      .def("set_output_handler", &PyConnection::set_output_handler)
      .def("poll_output", &PyConnection::poll_output)
      .def("watch", &PyConnection::watch)
      .def("settled", &PyConnection::settled, py::arg("timeout") = 0.0)
      .def_property_readonly("connected", &PyConnection::connected)
      .def_property_readonly("server_instance", &PyConnection::server_instance);

  py::class_<PyServer>(m, "Server")
      .def(py::init<const std::string&, int, const std::string&, int, int>(), py::arg("host") = "127.0.0.1",
           py::arg("port") = 0, py::arg("secret") = "", py::arg("worker_timeout_ms") = 3000,
           py::arg("client_grace") = ServerOptions{}.client_grace_s,
           "client_grace: seconds a silent but connected client (paused, asleep) keeps its session")
      .def("start", &PyServer::start)
      .def("stop", &PyServer::stop)
      .def_property_readonly("port", &PyServer::port)
      .def_property_readonly("host", &PyServer::host)
      .def_property_readonly("running", &PyServer::running);

  m.def("load_secret", [](const std::string& file) { return load_secret(file); }, py::arg("file") = "");
  m.def(
      "set_log_level",
      [](const std::string& level) {
        if (level == "debug") log::set_level(log::Level::debug);
        else if (level == "info") log::set_level(log::Level::info);
        else if (level == "warn") log::set_level(log::Level::warn);
        else if (level == "error") log::set_level(log::Level::error);
        else throw py::value_error("log level must be debug, info, warn or error, not '" + level + "'");
      },
      py::arg("level"), "How much the engine (an in-process server) writes to stderr.");
  m.def(
      "set_log_fd", [](int fd) { log::set_fd(fd); }, py::arg("fd"),
      "Where the engine (an in-process server) writes its lines: a copy of file descriptor fd (2 until set).");
  m.def("default_secret_path", &default_secret_path);
  m.def(
      "closed_by_finalizer",
      [] {
        std::lock_guard<std::mutex> lock(background_closes().mutex);
        return background_closes().total;
      },
      "How many connections their finalizer closed, their sockets on a thread of their own (for tests).");
}
