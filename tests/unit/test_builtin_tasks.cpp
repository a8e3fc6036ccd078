// The loom/* built-in tasks, called the way the worker calls them: through the registry.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/symbols.hpp"
#include "data/array.hpp"
#include "data/file.hpp"
#include "data/index.hpp"
#include "data/plain.hpp"
#include "worker/task_api.hpp"

using namespace treadle;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;

namespace {

// A scratch directory per test, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "treadle-builtin-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

const TaskRegistry& builtins() {
  static const TaskRegistry registry = [] {
    TaskRegistry r;
    register_builtin_tasks(r);
    return r;
  }();
  return registry;
}

// Runs a built-in as the worker would: looked up by symbol, with a context.
struct Runner {
  TempDir dir;
  TaskId next_id = 1;
  DataPtr operator()(std::string_view symbol, std::vector<DataPtr> inputs = {}, std::string config = {}) {
    const auto* entry = builtins().find(symbol);
    REQUIRE(entry != nullptr);
    TaskContext ctx;
    ctx.id = next_id++;
    ctx.type = symbol;
    ctx.config = config;
    ctx.inputs = std::move(inputs);
    ctx.work_dir = dir.path;
    return entry->run(ctx);
  }
};

DataPtr plain(std::string bytes) { return PlainData::from_string(std::move(bytes)); }
std::string text(const DataPtr& data) { return std::string(data->raw()); }

std::string u64(std::uint64_t value) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(value >> (8 * i));
  return out;
}

std::uint64_t as_u64(const DataPtr& data) {
  auto bytes = data->raw();
  REQUIRE(bytes.size() == 8);
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

DataPtr array_of(std::vector<std::string> items) {
  std::vector<DataPtr> data;
  for (auto& item : items) data.push_back(plain(item));
  return std::make_shared<ArrayData>(std::move(data));
}

void write_text(const fs::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> pieces(const DataPtr& data) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < data->length(); ++i) out.push_back(text(data->get(i)));
  return out;
}

// The JSON config of loom/run/run, as the Python client writes it.
std::string run_config(const std::string& args, const std::string& inputs = "[]",
                       const std::string& outputs = "[\"+out\"]") {
  return "{\"args\": " + args + ", \"inputs\": " + inputs + ", \"outputs\": " + outputs + "}";
}

}  // namespace

TEST_CASE("register_builtin_tasks registers every built-in with its threading", "[builtin]") {
  for (auto symbol : symbols::builtins) {
    INFO(symbol);
    CHECK(builtins().find(symbol) != nullptr);
  }
  CHECK(builtins().symbols().size() == std::size(symbols::builtins));

  auto threading = [](std::string_view symbol) { return builtins().find(symbol)->threading; };
  for (auto symbol : {symbols::const_, symbols::get, symbols::slice, symbols::size, symbols::length,
                      symbols::array_make, symbols::open})
    CHECK(threading(symbol) == Threading::inline_on_loop);
  for (auto symbol : {symbols::merge, symbols::split, symbols::save})
    CHECK(threading(symbol) == Threading::inline_if_small);
  for (auto symbol : {symbols::sleep, symbols::run}) CHECK(threading(symbol) == Threading::own_thread);
  for (auto symbol : {symbols::make_directory, symbols::slice_directory})
    CHECK(threading(symbol) == Threading::inline_if_small);
  for (auto symbol : {symbols::load, symbols::load_dir, symbols::store}) CHECK(threading(symbol) == Threading::own_thread);
}

TEST_CASE("const returns its config as a plain object", "[builtin]") {
  Runner run;
  auto out = run(symbols::const_, {}, std::string("bytes\0with zero", 15));
  CHECK(out->kind() == DataKind::plain);
  CHECK(text(out) == std::string("bytes\0with zero", 15));
  CHECK(run(symbols::const_, {}, "")->size() == 0);

  CHECK_THROWS_WITH(run(symbols::const_, {plain("x")}, "a"),
                    Equals("loom/data/const expects no inputs, got 1 input and 1 config byte"));
}

TEST_CASE("merge joins D-objects with the delimiter", "[builtin]") {
  Runner run;
  CHECK(text(run(symbols::merge, {plain("Hello "), plain("world!")})) == "Hello world!");
  CHECK(text(run(symbols::merge, {plain("a"), plain("b"), plain("c")}, ", ")) == "a, b, c");
  CHECK(text(run(symbols::merge, {plain(""), plain("")}, "-")) == "-");

  auto none = run(symbols::merge, {}, "-");
  CHECK(none->kind() == DataKind::plain);
  CHECK(none->size() == 0);

  auto single = plain("only");
  CHECK(run(symbols::merge, {single}, "-") == single);  // shared, not copied

  fs::path path = run.dir.path / "f.txt";
  write_text(path, "from file");
  auto file = std::make_shared<FileData>(path.string());
  auto from_file = run(symbols::merge, {file});
  CHECK(from_file->kind() == DataKind::plain);
  CHECK(text(from_file) == "from file");
  CHECK(text(run(symbols::merge, {file, plain("!")}, "|")) == "from file|!");

  CHECK_THROWS_WITH(run(symbols::merge, {plain("a"), array_of({"x"})}),
                    Equals("loom/data/merge expects plain or file inputs, input 1 is array (1 B, length 1)"));
  CHECK_THROWS_WITH(run(symbols::merge, {array_of({"x"})}),
                    Equals("loom/data/merge expects plain or file inputs, input 0 is array (1 B, length 1)"));
}

TEST_CASE("open gives a file object of the path", "[builtin]") {
  Runner run;
  fs::path path = run.dir.path / "input.txt";
  write_text(path, "line 1\nline 2\n");
  auto out = run(symbols::open, {}, path.string());
  REQUIRE(out->kind() == DataKind::file);
  CHECK(static_cast<const FileData&>(*out).path() == path.string());
  CHECK(text(out) == "line 1\nline 2\n");

  std::string missing = (run.dir.path / "missing.txt").string();
  CHECK_THROWS_WITH(run(symbols::open, {}, missing),
                    Equals("cannot open " + missing + ": No such file or directory"));
  CHECK_THROWS_WITH(run(symbols::open, {}, run.dir.path.string()),
                    Equals("cannot open " + run.dir.path.string() + ": Is a directory"));
  CHECK_THROWS_WITH(run(symbols::open, {}, ""),
                    Equals("loom/data/open expects no inputs and a path, got 0 inputs and 0 config bytes"));
  CHECK_THROWS_WITH(run(symbols::open, {plain("x")}, path.string()),
                    StartsWith("loom/data/open expects no inputs and a path, got 1 input and"));
}

TEST_CASE("save writes the bytes and gives a file object", "[builtin]") {
  Runner run;
  fs::path path = run.dir.path / "out.txt";
  auto out = run(symbols::save, {plain("saved bytes")}, path.string());
  REQUIRE(out->kind() == DataKind::file);
  CHECK(static_cast<const FileData&>(*out).path() == path.string());
  CHECK(text(out) == "saved bytes");
  CHECK(read_text(path) == "saved bytes");

  // An existing file is truncated, not appended to.
  run(symbols::save, {plain("short")}, path.string());
  CHECK(read_text(path) == "short");

  // Saving a file object onto its own path leaves it intact.
  auto file = std::make_shared<FileData>(path.string());
  auto same = run(symbols::save, {file}, path.string());
  CHECK(text(same) == "short");
  CHECK(read_text(path) == "short");

  // A file object saved elsewhere is copied.
  fs::path copy = run.dir.path / "copy.txt";
  run(symbols::save, {file}, copy.string());
  CHECK(read_text(copy) == "short");

  std::string unwritable = (run.dir.path / "no-such-dir" / "out.txt").string();
  CHECK_THROWS_WITH(run(symbols::save, {plain("x")}, unwritable),
                    Equals("cannot save to " + unwritable + ": No such file or directory"));
  CHECK_THROWS_WITH(run(symbols::save, {plain("x")}, "relative.txt"),
                    Equals("loom/data/save needs an absolute path, got 'relative.txt'"));
  CHECK_FALSE(fs::exists("relative.txt"));
  CHECK_THROWS_WITH(run(symbols::save, {plain("x")}, ""),
                    Equals("loom/data/save expects 1 input and a path, got 1 input and 0 config bytes"));
  CHECK_THROWS_WITH(run(symbols::save, {plain("x"), plain("y")}, path.string()),
                    StartsWith("loom/data/save expects 1 input and a path, got 2 inputs and"));
  CHECK_THROWS_WITH(run(symbols::save, {array_of({"x"})}, path.string()),
                    Equals("loom/data/save expects plain or file inputs, input 0 is array (1 B, length 1)"));
}

TEST_CASE("split cuts after each separator, keeping it", "[builtin]") {
  Runner run;
  auto lines = run(symbols::split, {plain("a\nbb\n\nccc\n")});
  REQUIRE(lines->kind() == DataKind::index);
  CHECK(pieces(lines) == std::vector<std::string>{"a\n", "bb\n", "\n", "ccc\n"});
  CHECK(lines->size() == 10);

  // The last piece has no separator and is kept.
  CHECK(pieces(run(symbols::split, {plain("x,y,z")}, ",")) == std::vector<std::string>{"x,", "y,", "z"});
  CHECK(pieces(run(symbols::split, {plain("no separator")})) == std::vector<std::string>{"no separator"});
  CHECK(run(symbols::split, {plain("")})->length() == 0);
  CHECK(pieces(run(symbols::split, {plain("\n")})) == std::vector<std::string>{"\n"});

  // The pieces merge back into the input.
  std::string original = "one two  three ";
  auto words = run(symbols::split, {plain(original)}, " ");
  std::vector<DataPtr> parts;
  for (std::size_t i = 0; i < words->length(); ++i) parts.push_back(words->get(i));
  CHECK(text(run(symbols::merge, parts)) == original);

  fs::path path = run.dir.path / "lines.txt";
  write_text(path, "1\n2\n");
  CHECK(pieces(run(symbols::split, {std::make_shared<FileData>(path.string())})) ==
        std::vector<std::string>{"1\n", "2\n"});

  CHECK_THROWS_WITH(run(symbols::split, {plain("a")}, "ab"),
                    Equals("loom/data/split expects 1 input and a 1-byte separator (or none for a newline), "
                           "got 1 input and 2 config bytes"));
  CHECK_THROWS_WITH(run(symbols::split, {}),
                    StartsWith("loom/data/split expects 1 input and a 1-byte separator"));
  CHECK_THROWS_WITH(run(symbols::split, {array_of({"a"})}),
                    Equals("loom/data/split expects plain or file inputs, input 0 is array (1 B, length 1)"));
}

TEST_CASE("get picks an element of an array or a piece of an index", "[builtin]") {
  Runner run;
  auto array = array_of({"zero", "one", "two"});
  CHECK(text(run(symbols::get, {array}, u64(1))) == "one");
  CHECK(run(symbols::get, {array}, u64(2)) == static_cast<const ArrayData&>(*array).items()[2]);

  auto index = run(symbols::split, {plain("a\nb\nc")});
  auto piece = run(symbols::get, {index}, u64(2));
  CHECK(piece->kind() == DataKind::plain);
  CHECK(text(piece) == "c");

  CHECK_THROWS_WITH(run(symbols::get, {array}, u64(3)), Contains("out of range") && Contains("length 3"));
  CHECK_THROWS_WITH(run(symbols::get, {index}, u64(1ull << 40)), Contains("out of range"));
  CHECK_THROWS_WITH(run(symbols::get, {array, array}, u64(0)),
                    Equals("loom/base/get expects 1 input and an 8-byte index, got 2 inputs and 8 config bytes"));
  CHECK_THROWS_WITH(run(symbols::get, {array}, "1"),
                    Equals("loom/base/get expects 1 input and an 8-byte index, got 1 input and 1 config byte"));
  CHECK_THROWS_WITH(run(symbols::get, {plain("abc")}, u64(0)),
                    Equals("loom/base/get expects an array or an index, got plain (3 B, length 0)"));
}

TEST_CASE("slice takes a clamped range of an array or an index", "[builtin]") {
  Runner run;
  auto array = array_of({"a", "b", "c", "d"});
  auto middle = run(symbols::slice, {array}, u64(1) + u64(3));
  CHECK(middle->kind() == DataKind::array);
  CHECK(pieces(middle) == std::vector<std::string>{"b", "c"});
  CHECK(pieces(run(symbols::slice, {array}, u64(2) + u64(100))) == std::vector<std::string>{"c", "d"});
  CHECK(run(symbols::slice, {array}, u64(3) + u64(1))->length() == 0);
  CHECK(run(symbols::slice, {array}, u64(50) + u64(60))->length() == 0);

  auto index = run(symbols::split, {plain("1\n2\n3\n")});
  auto tail = run(symbols::slice, {index}, u64(1) + u64(~0ull));
  CHECK(tail->kind() == DataKind::plain);  // the lines' bytes, as HyperLoom
  CHECK(tail->raw() == "2\n3\n");

  CHECK_THROWS_WITH(run(symbols::slice, {array}, u64(1)),
                    Equals("loom/base/slice expects 1 input and a 16-byte range (start, end), "
                           "got 1 input and 8 config bytes"));
  CHECK_THROWS_WITH(run(symbols::slice, {}, u64(0) + u64(1)),
                    StartsWith("loom/base/slice expects 1 input and a 16-byte range"));
  CHECK_THROWS_WITH(run(symbols::slice, {plain("abc")}, u64(0) + u64(1)),
                    Equals("loom/base/slice expects an array or an index, got plain (3 B, length 0)"));
}

TEST_CASE("size and length measure any object as u64 little-endian", "[builtin]") {
  Runner run;
  auto array = array_of({"ab", "cde"});
  CHECK(as_u64(run(symbols::size, {plain("hello")})) == 5);
  CHECK(as_u64(run(symbols::size, {array})) == 5);
  CHECK(as_u64(run(symbols::length, {plain("hello")})) == 0);
  CHECK(as_u64(run(symbols::length, {array})) == 2);
  CHECK(as_u64(run(symbols::length, {run(symbols::split, {plain("a\nb\nc\n")})})) == 3);

  CHECK_THROWS_WITH(run(symbols::size, {plain("x")}, "?"),
                    Equals("loom/base/size expects 1 input and an empty config, got 1 input and 1 config byte"));
  CHECK_THROWS_WITH(run(symbols::length, {}),
                    Equals("loom/base/length expects 1 input and an empty config, got 0 inputs and 0 config bytes"));
}

TEST_CASE("sleep waits and passes its input through", "[builtin]") {
  Runner run;
  auto start = std::chrono::steady_clock::now();
  auto out = run(symbols::sleep, {}, "0.05");
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(50));
  CHECK(out->kind() == DataKind::plain);
  CHECK(out->size() == 0);

  auto input = array_of({"kept"});
  CHECK(run(symbols::sleep, {input}, "0") == input);
  CHECK(run(symbols::sleep, {input}, "1e-3") == input);

  CHECK_THROWS_WITH(run(symbols::sleep, {}, "soon"),
                    Equals("loom/base/sleep expects a duration between 0 and 1e9 seconds, got 'soon'"));
  CHECK_THROWS_WITH(run(symbols::sleep, {}, "-1"), Contains("got '-1'"));
  CHECK_THROWS_WITH(run(symbols::sleep, {}, "1s"), Contains("got '1s'"));
  CHECK_THROWS_WITH(run(symbols::sleep, {}, "inf"), Contains("got 'inf'"));
  CHECK_THROWS_WITH(run(symbols::sleep, {}, ""),
                    Equals("loom/base/sleep expects 0 or 1 input and a duration in seconds (e.g. \"0.25\"), "
                           "got 0 inputs and 0 config bytes"));
  CHECK_THROWS_WITH(run(symbols::sleep, {input, input}, "0"), Contains("got 2 inputs and 1 config byte"));
}

TEST_CASE("array_make collects its inputs in order", "[builtin]") {
  Runner run;
  auto a = plain("a");
  auto inner = array_of({"x", "y"});
  auto out = run(symbols::array_make, {a, inner});
  REQUIRE(out->kind() == DataKind::array);
  CHECK(out->length() == 2);
  CHECK(out->get(0) == a);
  CHECK(out->get(1) == inner);
  CHECK(out->size() == 3);
  CHECK(run(symbols::array_make)->length() == 0);

  CHECK_THROWS_WITH(run(symbols::array_make, {a}, "x"),
                    Equals("loom/array/make expects any inputs and an empty config, got 1 input and 1 config byte"));
}

TEST_CASE("run captures stdout and feeds stdin", "[builtin][run]") {
  Runner run;
  auto out = run(symbols::run, {}, run_config(R"(["echo", "hello", "world"])"));
  CHECK(out->kind() == DataKind::plain);
  CHECK(text(out) == "hello world\n");

  auto grep = run(symbols::run, {plain("Loom one\ntwo\nLoom three\n")},
                  run_config(R"(["/bin/grep", "Loom"])", R"(["+in"])"));
  CHECK(text(grep) == "Loom one\nLoom three\n");

  // Without "+in" the program reads an empty stdin rather than the worker's.
  CHECK(text(run(symbols::run, {}, run_config(R"(["cat"])"))) == "");

  // A file object as stdin.
  fs::path path = run.dir.path / "in.txt";
  write_text(path, "from a file");
  CHECK(text(run(symbols::run, {std::make_shared<FileData>(path.string())},
                 run_config(R"(["cat"])", R"(["+in"])"))) == "from a file");

  // "inputs" and "outputs" may be left out.
  CHECK(text(run(symbols::run, {}, R"({"args": ["printf", "x"]})")) == "x");
}

TEST_CASE("run maps inputs to files and expands variables", "[builtin][run]") {
  Runner run;
  fs::path file_input = run.dir.path / "f.txt";
  write_text(file_input, "[file]");
  auto out = run(symbols::run, {plain("A\n"), std::make_shared<FileData>(file_input.string()), plain("C")},
                 run_config(R"(["/bin/cat", "file1", "sub/dir/file2", "file3"])",
                            R"(["file1", "sub/dir/file2", "file3"])"));
  CHECK(text(out) == "A\n[file]C");

  // The program may write to its mapped inputs; the file object it came from stays as it was.
  run(symbols::run, {std::make_shared<FileData>(file_input.string())},
      run_config(R"(["sh", "-c", "echo changed > mapped"])", R"(["mapped"])"));
  CHECK(read_text(file_input) == "[file]");

  // Variables: raw bytes, longest name first, no file created, no re-expansion.
  auto vars = run(symbols::run, {plain("short"), plain("long"), plain("$A")},
                  run_config(R"(["printf", "%s|%s|%s|%s", "$A", "$AB", "x$A$Ay", "$C"])",
                             R"(["$A", "$AB", "$C"])"));
  CHECK(text(vars) == "short|long|xshortshorty|$A");
  auto listing = run(symbols::run, {plain("v"), plain("f")},
                     run_config(R"(["ls", "-A"])", R"(["$VAR", "file"])"));
  CHECK(text(listing) == "file\n");  // the working directory holds only the mapped files

  // The program itself can come from a variable.
  CHECK(text(run(symbols::run, {plain("echo")}, run_config(R"(["$P", "hi"])", R"(["$P"])"))) == "hi\n");
}

TEST_CASE("run collects output files in order", "[builtin][run]") {
  Runner run;
  auto one = run(symbols::run, {},
                 run_config(R"(["sh", "-c", "printf out > output.txt; echo ignored"])", "[]", R"(["output.txt"])"));
  CHECK(one->kind() == DataKind::plain);
  CHECK(text(one) == "out");

  auto three = run(symbols::run, {},
                   run_config(R"(["sh", "-c", "printf 1 > o1; printf 2 > o2; printf stdout"])", "[]",
                              R"(["o1", "+out", "o2"])"));
  REQUIRE(three->kind() == DataKind::array);
  CHECK(pieces(three) == std::vector<std::string>{"1", "stdout", "2"});

  // The results outlive the sandbox, which is gone once the task returns.
  CHECK(fs::is_empty(run.dir.path / "run"));

  CHECK_THROWS_WITH(run(symbols::run, {}, run_config(R"(["true"])", "[]", R"(["result.txt"])")),
                    Equals("program did not create output file 'result.txt'"));
  CHECK_THROWS_WITH(run(symbols::run, {}, run_config(R"(["mkdir", "d"])", "[]", R"(["d"])")),
                    Equals("loom/run/run: output 'd' is not a regular file"));
  CHECK(fs::is_empty(run.dir.path / "run"));  // removed after failures too
}

TEST_CASE("run reports how the program ended", "[builtin][run]") {
  Runner run;
  CHECK_THROWS_WITH(run(symbols::run, {}, run_config(R"(["sh", "-c", "echo partial; echo oops >&2; exit 3"])")),
                    Equals("Program terminated with status 3\nStderr:\noops\n"));
  CHECK_THROWS_WITH(run(symbols::run, {}, run_config(R"(["ls", "/non-existent-path"])")),
                    StartsWith("Program terminated with status 2\nStderr:\nls: cannot access"));
  CHECK_THROWS_WITH(run(symbols::run, {}, run_config(R"(["sh", "-c", "echo dying >&2; kill -9 $$"])")),
                    Equals("Program terminated by signal 9 (Killed)\nStderr:\ndying\n"));
  // Nothing on stderr: no empty "Stderr:" section.
  CHECK_THROWS_WITH(run(symbols::run, {}, run_config(R"(["sh", "-c", "kill -11 $$"])")),
                    Equals("Program terminated by signal 11 (Segmentation fault)"));
  CHECK_THROWS_WITH(run(symbols::run, {}, run_config(R"(["sh", "-c", "exit 4"])")),
                    Equals("Program terminated with status 4"));

  // Only the last 64 KiB of stderr reach the message.
  try {
    run(symbols::run, {}, run_config(R"(["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a >&2; echo END >&2; exit 1"])"));
    FAIL("the program should have failed");
  } catch (const TaskFailure& failure) {
    std::string message = failure.what();
    std::string header = "Program terminated with status 1\nStderr:\n";
    // Compared in parts: a failing check would otherwise print 64 KiB of 'a'.
    CHECK(message.compare(0, header.size(), header) == 0);
    CHECK(message.size() == header.size() + 64 * 1024);
    CHECK(message.substr(message.size() - 8) == "aaaaEND\n");
  }

  CHECK_THROWS_WITH(run(symbols::run, {}, run_config(R"(["treadle-no-such-program", "x"])")),
                    Equals("cannot execute 'treadle-no-such-program': No such file or directory"));
  fs::path not_executable = run.dir.path / "data.txt";
  write_text(not_executable, "just data");
  CHECK_THROWS_WITH(run(symbols::run, {}, run_config("[\"" + not_executable.string() + "\"]")),
                    Equals("cannot execute '" + not_executable.string() + "': Permission denied"));
}

TEST_CASE("run rejects bad configs and inputs", "[builtin][run]") {
  Runner run;
  CHECK_THROWS_WITH(run(symbols::run, {}, "not json"), StartsWith("loom/run/run: config is not valid JSON ("));
  CHECK_THROWS_WITH(run(symbols::run, {}, "[1]"),
                    Equals("loom/run/run: config must be a JSON object with \"args\", \"inputs\" and \"outputs\""));
  CHECK_THROWS_WITH(run(symbols::run, {}, R"({"inputs": []})"), Equals("loom/run/run: config has no \"args\""));
  CHECK_THROWS_WITH(run(symbols::run, {}, R"({"args": "ls"})"),
                    Equals("loom/run/run: config \"args\" must be a list of strings"));
  CHECK_THROWS_WITH(run(symbols::run, {}, R"({"args": ["ls", 1]})"),
                    Equals("loom/run/run: config \"args\" must be a list of strings"));
  CHECK_THROWS_WITH(run(symbols::run, {}, run_config("[]")),
                    Equals("loom/run/run: config \"args\" is empty: there is no program to run"));
  // No outputs (Rain's Execute of a program run for its effect): an empty array.
  auto nothing = run(symbols::run, {}, run_config(R"(["true"])", "[]", "[]"));
  CHECK((nothing->kind() == DataKind::array && nothing->length() == 0));
  CHECK_THROWS_WITH(run(symbols::run, {plain("a")}, run_config(R"(["cat"])", R"(["a", "b"])")),
                    Equals("loom/run/run expects one name per input, got 2 names for 1 inputs"));
  CHECK_THROWS_WITH(run(symbols::run, {array_of({"x"})}, run_config(R"(["cat"])", R"(["+in"])")),
                    Equals("loom/run/run expects plain or file inputs, input 0 (stdin) is array (1 B, length 1)"));
  CHECK_THROWS_WITH(run(symbols::run, {array_of({"x"})}, run_config(R"(["cat"])", R"(["data"])")),
                    Equals("loom/run/run expects plain or file inputs, input 0 ('data') is array (1 B, length 1)"));
  CHECK_THROWS_WITH(run(symbols::run, {plain("a"), plain("b")}, run_config(R"(["cat"])", R"(["f", "f"])")),
                    Equals("loom/run/run: input name 'f' is used twice"));
  CHECK_THROWS_WITH(run(symbols::run, {plain("a")}, run_config(R"(["cat"])", R"(["$"])")),
                    Equals("loom/run/run: input name '$' needs a variable name after the '$'"));
  CHECK_THROWS_WITH(run(symbols::run, {plain("a")}, run_config(R"(["cat"])", R"(["../escape"])")),
                    Equals("loom/run/run: input file name '../escape' must be a relative path inside the sandbox"));
  CHECK_THROWS_WITH(run(symbols::run, {plain("a")}, run_config(R"(["cat"])", R"(["/tmp/abs"])")),
                    Contains("input file name '/tmp/abs' must be a relative path"));
  CHECK_THROWS_WITH(run(symbols::run, {}, run_config(R"(["true"])", "[]", R"(["a/../../b"])")),
                    Equals("loom/run/run: output file name 'a/../../b' must be a relative path inside the sandbox"));
  CHECK_THROWS_WITH(run(symbols::run, {plain(std::string("a\0b", 3))}, run_config(R"(["echo", "$X"])", R"(["$X"])")),
                    Equals("loom/run/run: argument '$X' contains a zero byte after expansion"));
  CHECK(fs::is_empty(run.dir.path / "run"));
}

TEST_CASE("concurrent runs get separate sandboxes", "[builtin][run]") {
  Runner run;
  constexpr int count = 8;
  std::vector<std::string> results(count);
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      TaskContext ctx;
      ctx.id = 42;  // the same task id on purpose: the sandbox names must still differ
      ctx.type = symbols::run;
      std::string config = run_config(R"(["sh", "-c", "cat file1; sleep 0.05; cat file1"])", R"(["file1"])");
      ctx.config = config;
      ctx.inputs = {plain(std::to_string(i))};
      ctx.work_dir = run.dir.path;
      results[i] = text(builtins().find(symbols::run)->run(ctx));
    });
  }
  for (auto& thread : threads) thread.join();
  for (int i = 0; i < count; ++i) CHECK(results[i] == std::to_string(i) + std::to_string(i));
}
