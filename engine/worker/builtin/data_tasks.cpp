// The loom/data/* tasks: making, combining, reading, writing and cutting D-objects.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "../../common/symbols.hpp"
#include "../../common/write_all.hpp"
#include "../../data/file.hpp"
#include "../../data/index.hpp"
#include "../../data/plain.hpp"
#include "../private_files.hpp"
#include "builtin.hpp"
#include "task_checks.hpp"

namespace treadle::builtin {

namespace {

DataPtr const_task(TaskContext& ctx) {
  if (!ctx.inputs.empty()) fail_shape(symbols::const_, "no inputs", ctx);
  return PlainData::from_string(std::string(ctx.config));
}

DataPtr merge_task(TaskContext& ctx) {
  const auto symbol = symbols::merge;
  // One input joins to itself: share its bytes instead of copying them.
  if (ctx.inputs.size() == 1) {
    dobject_input(symbol, ctx, 0);
    const DataPtr& only = ctx.inputs[0];
    return only->kind() == DataKind::plain ? only : PlainData::view(only, 0, only->size());
  }
  std::size_t total = 0;
  for (std::size_t i = 0; i < ctx.inputs.size(); ++i) total += dobject_input(symbol, ctx, i).size();
  if (!ctx.inputs.empty()) total += ctx.config.size() * (ctx.inputs.size() - 1);
  std::string joined;
  joined.reserve(total);
  for (std::size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (i > 0) joined.append(ctx.config);
    joined.append(ctx.inputs[i]->raw());
  }
  return PlainData::from_string(std::move(joined));
}

DataPtr open_task(TaskContext& ctx) {
  if (!ctx.inputs.empty() || ctx.config.empty()) fail_shape(symbols::open, "no inputs and a path", ctx);
  std::string path(ctx.config);
  // mmap of a directory fails with a confusing "No such device"; say what is wrong instead.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw TaskFailure("cannot open " + path + ": " + errno_text(EISDIR));
  return std::make_shared<FileData>(std::move(path));
}

}  // namespace

void write_file(const std::string& path, std::string_view bytes) {
  // A path the user named (save, checkpoints) gets the modes of the user's umask, not of the
  // worker's 077 (private_files.hpp); an existing file keeps its own.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd >= 0) ::fchmod(fd, 0666 & ~private_files::user_umask());
  else if (errno == EEXIST) fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw TaskFailure("cannot save to " + path + ": " + errno_text(errno));
  if (int error = write_all(fd, bytes)) {
    ::close(fd);
    throw TaskFailure("cannot write " + path + ": " + errno_text(error));
  }
  if (::close(fd) != 0) throw TaskFailure("cannot write " + path + ": " + errno_text(errno));
}

namespace {

DataPtr save_task(TaskContext& ctx) {
  if (ctx.inputs.size() != 1 || ctx.config.empty()) fail_shape(symbols::save, "1 input and a path", ctx);
  auto bytes = dobject_input(symbols::save, ctx, 0);
  std::string path(ctx.config);
  // As HyperLoom: a relative path would land in whichever directory the worker runs in.
  if (path.front() != '/')
    throw TaskFailure("loom/data/save needs an absolute path, got '" + path + "'");
  // Saving a file onto itself: truncating it would pull the pages from under our own mapping.
  bool same_file = false;
  if (auto* file = dynamic_cast<const FileData*>(ctx.inputs[0].get())) {
    std::error_code ignored;
    same_file = std::filesystem::equivalent(file->path(), path, ignored);
  }
  if (!same_file) write_file(path, bytes);
  return std::make_shared<FileData>(std::move(path));
}

DataPtr split_task(TaskContext& ctx) {
  if (ctx.inputs.size() != 1 || ctx.config.size() > 1)
    fail_shape(symbols::split, "1 input and a 1-byte separator (or none for a newline)", ctx);
  auto bytes = dobject_input(symbols::split, ctx, 0);
  const char separator = ctx.config.empty() ? '\n' : ctx.config[0];
  // Each piece keeps its separator, so merging the pieces gives the input back.
  std::vector<std::size_t> bounds{0};
  const char* begin = bytes.data();
  const char* end = begin + bytes.size();
  for (const char* at = begin; at < end;) {
    auto* found = static_cast<const char*>(std::memchr(at, separator, static_cast<std::size_t>(end - at)));
    if (!found) break;
    at = found + 1;
    bounds.push_back(static_cast<std::size_t>(at - begin));
  }
  if (bounds.back() < bytes.size()) bounds.push_back(bytes.size());
  return std::make_shared<IndexData>(ctx.inputs[0], std::move(bounds));
}

}  // namespace

void register_data_tasks(TaskRegistry& registry) {
  registry.add(std::string(symbols::const_), const_task, Threading::inline_on_loop);
  registry.add(std::string(symbols::merge), merge_task, Threading::inline_if_small);
  registry.add(std::string(symbols::open), open_task, Threading::inline_on_loop);
  registry.add(std::string(symbols::save), save_task, Threading::inline_if_small);
  registry.add(std::string(symbols::split), split_task, Threading::inline_if_small);
}

}  // namespace treadle::builtin
