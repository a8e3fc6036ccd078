// loom/run/run: runs an external program in a fresh sandbox directory.
//
// Config (JSON): {"args": [...], "inputs": [one entry per input], "outputs": [entries]}
//   An input entry is a name, or {"path": name, "dir": bool, "write": bool} (Rain's mappings):
//   input name "+in"     -> the program's standard input
//   input name "$NAME"   -> no file; "$NAME" in any argument is replaced by the input's bytes
//   other input names    -> a file of that name in the working directory: a writable copy for
//                           a plain name or "write": true, else a read-only one (Rain's link);
//                           "dir": the input is a directory archive, unpacked there
//   An output entry is a name, or {"path": name, "dir": bool}:
//   output name "+out"   -> the program's standard output; other names -> files it created;
//                           "dir": the directory it created, packed as an archive
// One output gives that plain object, several (or none) give an array of them in order.
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>

#include "../../common/symbols.hpp"
#include "../../common/write_all.hpp"
#include "../../data/array.hpp"
#include "../../data/file.hpp"
#include "../../data/plain.hpp"
#include "../../data/tar_archive.hpp"
#include "../job_end.hpp"
#include "builtin.hpp"
#include "child_process.hpp"
#include "../kept_files.hpp"
#include "sandbox.hpp"
#include "task_checks.hpp"

namespace treadle::builtin {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view stdin_name = "+in";
constexpr std::string_view stdout_name = "+out";
// Programs can be chatty on failure; the message keeps the end, where the cause usually is.
constexpr std::size_t max_stderr_in_message = 64 * 1024;

[[noreturn]] void fail(const std::string& problem) {
  throw TaskFailure(std::string(symbols::run) + ": " + problem);
}

// Where an input or output goes in the sandbox, and how.
struct Mapping {
  std::string name;
  bool dir = false;
  bool read_only = false;
};

struct RunConfig {
  std::vector<std::string> args;
  std::vector<Mapping> inputs;
  std::vector<Mapping> outputs;
};

std::vector<std::string> string_list(const nlohmann::json& config, const char* key, bool required,
                                     std::vector<std::string> fallback) {
  auto it = config.find(key);
  if (it == config.end()) {
    if (required) fail(std::string("config has no \"") + key + "\"");
    return fallback;
  }
  if (!it->is_array()) fail(std::string("config \"") + key + "\" must be a list of strings");
  std::vector<std::string> out;
  for (auto& item : *it) {
    if (!item.is_string()) fail(std::string("config \"") + key + "\" must be a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

// A plain name (HyperLoom's form: a writable copy) or {"path", "dir", "write"} (Rain's).
std::vector<Mapping> mappings(const nlohmann::json& config, const char* key, std::vector<Mapping> fallback) {
  auto it = config.find(key);
  if (it == config.end()) return fallback;
  if (!it->is_array()) fail(std::string("config \"") + key + "\" must be a list");
  std::vector<Mapping> out;
  for (auto& item : *it) {
    if (item.is_string()) {
      out.push_back(Mapping{item.get<std::string>()});
      continue;
    }
    auto path = item.is_object() ? item.find("path") : item.end();
    if (!item.is_object() || path == item.end() || !path->is_string())
      fail(std::string("config \"") + key + "\" holds names or objects with a \"path\"");
    Mapping mapping{path->get<std::string>()};
    auto flag = [&](const char* name) {
      auto value = item.find(name);
      if (value == item.end()) return false;
      if (!value->is_boolean()) fail(std::string("config \"") + key + "\": \"" + name + "\" must be true or false");
      return value->get<bool>();
    };
    mapping.dir = flag("dir");
    mapping.read_only = !flag("write");
    out.push_back(std::move(mapping));
  }
  return out;
}

RunConfig parse_config(const TaskContext& ctx) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(ctx.config.begin(), ctx.config.end());
  } catch (const nlohmann::json::exception& error) {
    fail(std::string("config is not valid JSON (") + error.what() + ")");
  }
  if (!json.is_object()) fail("config must be a JSON object with \"args\", \"inputs\" and \"outputs\"");
  RunConfig config;
  config.args = string_list(json, "args", true, {});
  config.inputs = mappings(json, "inputs", {});
  config.outputs = mappings(json, "outputs", {Mapping{std::string(stdout_name)}});
  if (config.args.empty()) fail("config \"args\" is empty: there is no program to run");
  if (config.inputs.size() != ctx.inputs.size())
    throw TaskFailure(std::string(symbols::run) + " expects one name per input, got " +
                      std::to_string(config.inputs.size()) + " names for " + std::to_string(ctx.inputs.size()) +
                      " inputs");
  return config;
}

bool is_variable(const std::string& name) { return !name.empty() && name[0] == '$'; }

// Mapped files must land inside the working directory, or runs could clobber each other.
void check_file_name(const std::string& name, const char* role) {
  fs::path path(name);
  bool escapes = name.empty() || path.is_absolute() || !path.has_filename() ||
                 std::any_of(path.begin(), path.end(), [](const fs::path& part) { return part == ".."; });
  if (escapes) fail(std::string(role) + " file name '" + name + "' must be a relative path inside the sandbox");
}

// `mode` exactly, whatever the worker's umask (private_files.hpp): 0600, or Rain's read-only
// link's 0444 (docs/rain.md), which the 0700 directories above keep from other users.
void write_bytes(const fs::path& path, std::string_view bytes, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) fail("cannot create " + path.string() + ": " + errno_text(errno));
  ::fchmod(fd, mode);
  if (int error = write_all(fd, bytes)) {
    ::close(fd);
    fail("cannot write " + path.string() + ": " + errno_text(error));
  }
  if (::close(fd) != 0) fail("cannot write " + path.string() + ": " + errno_text(errno));
}

struct Variable {
  std::string name;  // with its '$'
  std::string_view value;
};

// One pass from left to right, longest name first at each '$': "$AB" is not "$A" + "B" when
// both exist, and substituted bytes are never expanded again.
std::string expand(const std::string& arg, const std::vector<Variable>& longest_first) {
  if (longest_first.empty() || arg.find('$') == std::string::npos) return arg;
  std::string out;
  for (std::size_t at = 0; at < arg.size();) {
    const Variable* match = nullptr;
    if (arg[at] == '$') {
      for (auto& variable : longest_first) {
        if (arg.compare(at, variable.name.size(), variable.name) == 0) {
          match = &variable;
          break;
        }
      }
    }
    if (match) {
      out.append(match->value);
      at += match->name.size();
    } else {
      out.push_back(arg[at++]);
    }
  }
  return out;
}

// A mapped input as a file (a copy: the worker keeps objects in memory, not as files) or, for
// a directory, its archive unpacked. Read-only unless it is a writable mapping: Rain's "link".
void place_input(const Mapping& mapping, std::string_view bytes, const Sandbox& sandbox) {
  check_file_name(mapping.name, "input");
  fs::path target = sandbox.work() / mapping.name;
  try {
    // Parents one by one, never through a link an earlier (directory) input brought in.
    tar::make_real_directories(sandbox.work(), fs::path(mapping.name).parent_path().string());
    if (mapping.dir) {
      if (::mkdir(target.c_str(), 0755) != 0) fail("cannot create directory for input '" + mapping.name + "': " +
                                                  errno_text(errno));
      tar::extract(bytes, target, mapping.read_only);
      if (mapping.read_only) ::chmod(target.c_str(), 0555);
      return;
    }
  } catch (const DataError& error) {
    fail("input '" + mapping.name + "': " + error.what());
  }
  write_bytes(target, bytes, mapping.read_only ? 0444 : 0600);
}

// Places the inputs where the program finds them; returns its arguments and its stdin file.
std::vector<std::string> prepare_inputs(const TaskContext& ctx, const RunConfig& config, const Sandbox& sandbox,
                                        std::string& stdin_path) {
  std::set<std::string> seen;
  std::vector<Variable> variables;
  for (std::size_t i = 0; i < config.inputs.size(); ++i) {
    const Mapping& mapping = config.inputs[i];
    const std::string& name = mapping.name;
    // "+in" is the wire's name for stdin; errors use the user's word.
    auto bytes = dobject_input(symbols::run, ctx, i, name == stdin_name ? std::string("stdin") : "'" + name + "'");
    if (!seen.insert(name).second) fail("input name '" + name + "' is used twice");
    if (name == stdin_name) {
      if (mapping.dir) fail("a directory cannot be the program's standard input");
      // A file can be the program's stdin as it is: read-only, nothing to copy.
      if (auto* file = dynamic_cast<const FileData*>(ctx.inputs[i].get())) {
        stdin_path = fs::absolute(file->path()).string();
      } else {
        stdin_path = (sandbox.root() / "stdin").string();
        write_bytes(stdin_path, bytes, 0600);
      }
    } else if (is_variable(name)) {
      if (name.size() == 1) fail("input name '$' needs a variable name after the '$'");
      variables.push_back(Variable{name, bytes});
    } else {
      place_input(mapping, bytes, sandbox);
    }
  }
  std::sort(variables.begin(), variables.end(),
            [](const Variable& a, const Variable& b) { return a.name.size() > b.name.size(); });
  std::vector<std::string> args;
  for (auto& arg : config.args) {
    args.push_back(expand(arg, variables));
    // exec would silently cut the argument at the first zero byte.
    if (args.back().find('\0') != std::string::npos)
      fail("argument '" + arg + "' contains a zero byte after expansion");
  }
  return args;
}

std::string stderr_tail(const std::string& path) {
  std::string_view text;
  DataPtr content;
  try {
    content = PlainData::map_file(path);
    text = content->raw();
  } catch (const DataError&) {
    return {};
  }
  if (text.size() > max_stderr_in_message) text = text.substr(text.size() - max_stderr_in_message);
  return std::string(text);
}

std::string signal_description(int number) {
  const char* text = ::sigdescr_np(number);  // unlike strsignal, no shared buffer
  return text ? text : "unknown signal";
}

[[noreturn]] void fail_exit(const ChildExit& exit, const std::string& stderr_path) {
  std::string how = exit.by_signal ? "Program terminated by signal " + std::to_string(exit.number) + " (" +
                                         signal_description(exit.number) + ")"
                                   : "Program terminated with status " + std::to_string(exit.number);
  // A program that wrote nothing to stderr (often one killed by a signal) gets no empty section.
  std::string tail = stderr_tail(stderr_path);
  throw TaskFailure(tail.empty() ? how : how + "\nStderr:\n" + tail);
}

DataPtr collect_output(const Mapping& mapping, const Sandbox& sandbox, const std::string& stdout_path,
                       const fs::path& work_dir) {
  const std::string& name = mapping.name;
  if (name == stdout_name) return map_output_file(stdout_path, work_dir);
  check_file_name(name, "output");
  fs::path path = sandbox.work() / name;
  std::error_code error;
  auto status = fs::symlink_status(path, error);
  const char* what = mapping.dir ? "directory" : "file";
  if (!fs::exists(status)) throw TaskFailure(std::string("program did not create output ") + what + " '" + name + "'");
  // An output must be what the program wrote in its directory: a link (itself, or through a
  // linked folder) could make the worker read any file it can.
  fs::path real = fs::weakly_canonical(path, error), root = fs::weakly_canonical(sandbox.work(), error);
  auto inside = std::mismatch(root.begin(), root.end(), real.begin(), real.end()).first == root.end();
  if (fs::is_symlink(status) || !inside)
    fail("output '" + name + "' is a link; outputs must be " + what + "s the program wrote");
  if (mapping.dir) {
    if (!fs::is_directory(status)) fail("output '" + name + "' is not a directory");
    try {
      return PlainData::from_string(tar::pack_directory(path));
    } catch (const DataError& packing) {
      fail("output '" + name + "': " + packing.what());
    }
  }
  if (!fs::is_regular_file(status)) fail("output '" + name + "' is not a regular file");
  return map_output_file(path, work_dir);
}

DataPtr run_task(TaskContext& ctx) {
  RunConfig config = parse_config(ctx);
  for (auto& output : config.outputs)
    if (output.name != stdout_name) check_file_name(output.name, "output");

  Sandbox sandbox(ctx.work_dir, ctx.id);
  ChildSpec spec;
  spec.task = ctx.id;
  spec.stdin_path = "/dev/null";
  spec.args = prepare_inputs(ctx, config, sandbox, spec.stdin_path);
  spec.cwd = sandbox.work().string();
  spec.stdout_path = (sandbox.root() / "stdout").string();
  spec.stderr_path = (sandbox.root() / "stderr").string();
  spec.on_started = ctx.started;

  ChildExit exit = run_child(spec);
  // Killed by the job's end along with the worker: the worker reports nothing once it is
  // stopping (Worker::Impl::failed), so give its own signal a moment to arrive.
  if (exit.by_signal && exit.number == SIGTERM) job_ending();
  if (exit.by_signal || exit.number != 0) fail_exit(exit, spec.stderr_path);

  // The mappings (and kept files) outlive the sandbox's names, so the sandbox can go when this returns.
  std::vector<DataPtr> results;
  for (auto& output : config.outputs)
    results.push_back(collect_output(output, sandbox, spec.stdout_path, ctx.work_dir));
  if (results.size() == 1) return results[0];
  return std::make_shared<ArrayData>(std::move(results));
}

}  // namespace

void register_run_task(TaskRegistry& registry) {
  registry.add(std::string(symbols::run), run_task, Threading::own_thread);
}

}  // namespace treadle::builtin
