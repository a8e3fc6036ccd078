// Directory objects' archives (data/tar_archive.*), and the Rain built-ins and run mappings that
// use them, called as the worker calls them.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/symbols.hpp"
#include "data/array.hpp"
#include "data/data.hpp"
#include "data/plain.hpp"
#include "data/tar_archive.hpp"
#include "worker/task_api.hpp"

using namespace treadle;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

struct Scratch {
  fs::path path;
  Scratch() {
    std::string pattern = (fs::temp_directory_path() / "treadle-tar-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~Scratch() {
    tar::make_removable(path);
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

void write_text(const fs::path& path, const std::string& content) { std::ofstream(path, std::ios::binary) << content; }

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::vector<std::string> paths_of(const std::string& archive) {
  std::vector<std::string> out;
  for (auto& e : tar::read_entries(archive)) out.push_back(e.path);
  return out;
}

const TaskRegistry& builtins() {
  static const TaskRegistry registry = [] {
    TaskRegistry r;
    register_builtin_tasks(r);
    return r;
  }();
  return registry;
}

DataPtr run(std::string_view symbol, std::vector<DataPtr> inputs, std::string config, const fs::path& work) {
  TaskContext ctx;
  ctx.id = 7;
  ctx.type = symbol;
  ctx.config = config;
  ctx.inputs = std::move(inputs);
  ctx.work_dir = work;
  return builtins().find(symbol)->run(ctx);
}

DataPtr plain(std::string bytes) { return PlainData::from_string(std::move(bytes)); }

}  // namespace

TEST_CASE("a packed tree unpacks to the same files, modes and links", "[tar]") {
  Scratch s;
  fs::create_directories(s.path / "in/sub/deeper");
  write_text(s.path / "in/a.txt", "alpha");
  write_text(s.path / "in/sub/deeper/b.bin", std::string("b\0b", 3));
  write_text(s.path / "in/empty", "");
  fs::create_directories(s.path / "in/empty-dir");
  ::chmod((s.path / "in/a.txt").c_str(), 0755);
  fs::create_symlink("a.txt", s.path / "in/link");
  std::string long_name(150, 'n');  // beyond ustar's 100 bytes: a pax record carries it
  write_text(s.path / "in/sub" / long_name, "long");

  std::string archive = tar::pack_directory(s.path / "in");
  CHECK(archive.size() % 512 == 0);
  CHECK(paths_of(archive) == std::vector<std::string>{"a.txt", "empty", "empty-dir", "link", "sub", "sub/deeper",
                                                      "sub/deeper/b.bin", "sub/" + long_name});
  CHECK(tar::pack_directory(s.path / "in") == archive);  // the same tree, the same bytes

  fs::create_directory(s.path / "out");
  tar::extract(archive, s.path / "out", false);
  CHECK(read_text(s.path / "out/a.txt") == "alpha");
  CHECK(read_text(s.path / "out/sub/deeper/b.bin") == std::string("b\0b", 3));
  CHECK(read_text(s.path / "out/sub" / long_name) == "long");
  CHECK(fs::is_directory(s.path / "out/empty-dir"));
  CHECK(fs::read_symlink(s.path / "out/link") == "a.txt");
  CHECK(mode_of(s.path / "out/a.txt") == 0755);

  fs::create_directory(s.path / "ro");
  tar::extract(archive, s.path / "ro", true);  // Rain's link mapping: read-only
  CHECK(mode_of(s.path / "ro/a.txt") == 0555);
  CHECK(mode_of(s.path / "ro/empty") == 0444);
  CHECK(mode_of(s.path / "ro/sub") == 0555);
}

TEST_CASE("archives written by the writer and by other tools read back", "[tar]") {
  tar::Writer writer;
  writer.add_file("a/deep/path/x", "67890");
  writer.add_file("myfile.txt", "12345", 0600);
  std::string archive = writer.finish();
  auto entries = tar::read_entries(archive);
  REQUIRE(entries.size() == 5);  // a, a/deep, a/deep/path made as parents
  CHECK(entries[0].path == "a");
  CHECK(entries[0].type == tar::EntryType::directory);
  CHECK(entries[3].path == "a/deep/path/x");
  CHECK(archive.substr(entries[3].offset, entries[3].size) == "67890");
  CHECK(entries[4].mode == 0600);

  // Another archive placed under a prefix, as MakeDirectory places a directory object.
  tar::Writer outer;
  outer.add_archive("sub", archive);
  outer.add_archive("", archive);
  auto merged = paths_of(outer.finish());
  CHECK(std::count(merged.begin(), merged.end(), "sub/a/deep/path/x") == 1);
  CHECK(std::count(merged.begin(), merged.end(), "myfile.txt") == 1);

  // Python's tarfile writes "./" prefixes and the root "." (Rain's directory()): both read.
  tar::Writer dotted;
  dotted.add_directory("./", 0755);
  dotted.add_file("./x/y", "z");
  CHECK(paths_of(dotted.finish()) == std::vector<std::string>{"x", "x/y"});
}

TEST_CASE("a malformed or escaping archive is a clear error", "[tar]") {
  CHECK_THROWS_WITH(tar::read_entries("not a tar"), Contains("not a tar archive"));
  CHECK_THROWS_WITH(tar::read_entries(std::string(512, 'x')), Contains("not a tar archive"));
  tar::Writer writer;
  writer.add_file("f", std::string(2000, 'q'));
  std::string archive = writer.finish();
  CHECK_THROWS_WITH(tar::read_entries(archive.substr(0, 1024)), Contains("truncated"));
  std::string corrupt = archive;
  corrupt[0] = 'g';
  CHECK_THROWS_WITH(tar::read_entries(corrupt), Contains("checksum"));
  CHECK(tar::read_entries("").empty());  // an empty directory

  CHECK_THROWS_WITH(tar::normalise_path("../x", "path"), Contains("'..'"));
  CHECK_THROWS_WITH(tar::normalise_path("/etc/passwd", "path"), Contains("absolute"));
  CHECK(tar::normalise_path("a//./b/", "path") == "a/b");
  CHECK_THROWS_WITH(tar::Writer().add_file("a/../../x", "bad"), Contains("'..'"));
}

TEST_CASE("extraction never writes through a link", "[tar]") {
  Scratch s;
  fs::create_directories(s.path / "outside");
  fs::create_directories(s.path / "target");
  // The first archive brings a link to a directory outside; the second writes through its name.
  tar::Writer first;
  first.add_symlink("escape", (s.path / "outside").string());
  tar::extract(first.finish(), s.path / "target", false);
  tar::Writer second;
  second.add_file("escape/planted", "gotcha");
  CHECK_THROWS_WITH(tar::extract(second.finish(), s.path / "target", false), Contains("not a directory"));
  CHECK_FALSE(fs::exists(s.path / "outside/planted"));
}

TEST_CASE("make_directory, slice_directory, store and load_dir", "[tar][builtin]") {
  Scratch s;
  tar::Writer sub;
  sub.add_file("inner.txt", "inner");
  DataPtr subdir = plain(sub.finish());

  DataPtr made = run(symbols::make_directory, {plain("12345"), subdir, plain("67890")},
                     R"({"paths": ["myfile.txt", "adir", "a/deep/path/x"], "dirs": [false, true, false]})", s.path);
  std::string archive(made->raw());
  CHECK(paths_of(archive) ==
        std::vector<std::string>{"myfile.txt", "adir", "adir/inner.txt", "a", "a/deep", "a/deep/path", "a/deep/path/x"});

  DataPtr x = run(symbols::slice_directory, {made}, "a/deep/path/x", s.path);
  CHECK(x->raw() == "67890");
  DataPtr deep = run(symbols::slice_directory, {made}, "a/deep/", s.path);
  CHECK(paths_of(std::string(deep->raw())) == std::vector<std::string>{"path", "path/x"});
  CHECK_THROWS_WITH(run(symbols::slice_directory, {made}, "a/deep", s.path), Contains("end the path with '/'"));
  CHECK_THROWS_WITH(run(symbols::slice_directory, {made}, "nothing", s.path), Contains("has no file 'nothing'"));
  CHECK_THROWS_WITH(run(symbols::slice_directory, {made}, "nothing/", s.path), Contains("has no directory"));
  CHECK_THROWS_WITH(run(symbols::slice_directory, {made}, "../x", s.path), Contains("'..'"));
  CHECK_THROWS_WITH(run(symbols::slice_directory, {plain("a blob")}, "x", s.path), Contains("is not a directory"));

  std::string stored = (s.path / "stored").string();
  auto none = run(symbols::store, {made}, R"({"path": ")" + stored + R"(", "dir": true})", s.path);
  CHECK(none->length() == 0);
  CHECK(read_text(s.path / "stored/a/deep/path/x") == "67890");
  DataPtr loaded = run(symbols::load_dir, {}, stored, s.path);
  CHECK(paths_of(std::string(loaded->raw())).size() == 7);
  run(symbols::store, {plain("blob")}, R"({"path": ")" + (s.path / "f").string() + R"("})", s.path);
  CHECK(run(symbols::load, {}, (s.path / "f").string(), s.path)->raw() == "blob");
  CHECK_THROWS_WITH(run(symbols::load, {}, "relative", s.path), Contains("needs an absolute path"));
  CHECK_THROWS_WITH(run(symbols::load, {}, stored, s.path), Contains("is a directory"));
  CHECK_THROWS_WITH(run(symbols::load_dir, {}, (s.path / "f").string(), s.path), Contains("is not a directory"));
}

TEST_CASE("run maps directories in and out, read-only unless written", "[tar][builtin]") {
  Scratch s;
  tar::Writer writer;
  writer.add_file("data/one", "1");
  writer.add_file("data/two", "22");
  DataPtr dir = plain(writer.finish());
  // The program lists its input directory, checks that the linked file is read-only and the
  // written one is not, and makes a directory and a file as outputs.
  std::string script =
      "test ! -w in/data/one -o $(id -u) = 0 && test -w copy && ls in/data > listing && "
      "mkdir -p made/sub && cp in/data/two made/sub/t && stat -c %a in/data/one copy";
  DataPtr out = run(symbols::run, {dir, plain("c")},
                    R"({"args": ["sh", "-c", ")" + script + R"("],
                        "inputs": [{"path": "in", "dir": true}, {"path": "copy", "write": true}],
                        "outputs": ["+out", "listing", {"path": "made", "dir": true}]})",
                    s.path);
  REQUIRE(out->length() == 3);
  CHECK(out->get(0)->raw() == "444\n600\n");  // the written copy is private (0600) to the user
  CHECK(out->get(1)->raw() == "one\ntwo\n");
  std::string made(out->get(2)->raw());
  CHECK(paths_of(made) == std::vector<std::string>{"sub", "sub/t"});
  CHECK(fs::is_empty(s.path / "run"));  // the sandbox, read-only parts included, is gone

  CHECK_THROWS_WITH(run(symbols::run, {}, R"({"args": ["true"], "outputs": [{"path": "nothing", "dir": true}]})",
                        s.path),
                    Contains("did not create output directory 'nothing'"));
  CHECK_THROWS_WITH(run(symbols::run, {}, R"({"args": ["touch", "f"], "outputs": [{"path": "f", "dir": true}]})",
                        s.path),
                    Contains("'f' is not a directory"));
  CHECK_THROWS_WITH(run(symbols::run, {plain("not a tar")}, R"({"args": ["true"], "inputs": [{"path": "d", "dir": true}], "outputs": []})",
                        s.path),
                    Contains("input 'd': directory archive: not a tar archive"));
  CHECK_THROWS_WITH(run(symbols::run, {plain("x")}, R"({"args": ["true"], "inputs": [{"path": "../x"}], "outputs": []})",
                        s.path),
                    Contains("must be a relative path inside the sandbox"));
  CHECK_THROWS_WITH(run(symbols::run, {plain("x")}, R"({"args": ["true"], "inputs": [{"dir": true}], "outputs": []})",
                        s.path),
                    Contains("holds names or objects with a \"path\""));
}
