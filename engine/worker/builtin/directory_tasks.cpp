// Rain's built-ins for directories and files: rain/make_directory, rain/slice_directory,
// rain/load, rain/load_dir and rain/store. A directory object is a tar archive in a plain
// object (data/tar_archive.hpp); the client knows which objects are directories and says so in
// the configs, as Rain checks data types while the graph is built.
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "../../common/symbols.hpp"
#include "../../data/array.hpp"
#include "../../data/plain.hpp"
#include "../../data/tar_archive.hpp"
#include "builtin.hpp"
#include "task_checks.hpp"

namespace treadle::builtin {

namespace fs = std::filesystem;

namespace {

nlohmann::json json_config(std::string_view symbol, const TaskContext& ctx) {
  try {
    auto json = nlohmann::json::parse(ctx.config.begin(), ctx.config.end());
    if (json.is_object()) return json;
  } catch (const nlohmann::json::exception&) {
  }
  throw TaskFailure(std::string(symbol) + ": config must be a JSON object");
}

std::string absolute_path(std::string_view symbol, std::string path) {
  // A relative path would land in whichever directory the worker runs in.
  if (path.empty() || path.front() != '/')
    throw TaskFailure(std::string(symbol) + " needs an absolute path, got '" + path + "'");
  return path;
}

// The archive of directory input `i`, checked to be one.
std::string_view archive_input(std::string_view symbol, const TaskContext& ctx, std::size_t i) {
  auto bytes = dobject_input(symbol, ctx, i);
  try {
    tar::read_entries(bytes);
  } catch (const DataError& error) {
    throw TaskFailure(std::string(symbol) + ": input " + std::to_string(i) + " is not a directory (" +
                      error.what() + ")");
  }
  return bytes;
}

DataPtr make_directory_task(TaskContext& ctx) {
  const auto symbol = symbols::make_directory;
  auto config = json_config(symbol, ctx);
  auto paths = config.value("paths", nlohmann::json::array());
  auto dirs = config.value("dirs", nlohmann::json::array());
  if (!paths.is_array() || !dirs.is_array() || paths.size() != ctx.inputs.size() || dirs.size() != ctx.inputs.size())
    throw TaskFailure(std::string(symbol) + ": config needs \"paths\" and \"dirs\" with one item per input");
  tar::Writer writer;
  try {
    for (std::size_t i = 0; i < ctx.inputs.size(); ++i) {
      if (!paths[i].is_string() || !dirs[i].is_boolean())
        throw TaskFailure(std::string(symbol) + ": \"paths\" are strings and \"dirs\" booleans");
      std::string path = paths[i].get<std::string>();
      if (dirs[i].get<bool>()) writer.add_archive(path, archive_input(symbol, ctx, i));
      else writer.add_file(path, dobject_input(symbol, ctx, i));
    }
  } catch (const DataError& error) {
    throw TaskFailure(std::string(symbol) + ": " + error.what());
  }
  return PlainData::from_string(writer.finish());
}

DataPtr slice_directory_task(TaskContext& ctx) {
  const auto symbol = symbols::slice_directory;
  if (ctx.inputs.size() != 1) fail_shape(symbol, "1 input (a directory) and a path", ctx);
  std::string_view archive = archive_input(symbol, ctx, 0);
  std::string wanted(ctx.config);
  bool as_directory = !wanted.empty() && wanted.back() == '/';
  std::string path;
  try {
    path = tar::normalise_path(wanted, "path '" + wanted + "'");
  } catch (const DataError& error) {
    throw TaskFailure(std::string(symbol) + ": " + error.what());
  }
  auto entries = tar::read_entries(archive);
  if (!as_directory) {
    // The last entry of a name wins, as when a tar is unpacked.
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      if (it->path != path) continue;
      if (it->type != tar::EntryType::file)
        throw TaskFailure(std::string(symbol) + ": '" + wanted + "' is a " +
                          (it->type == tar::EntryType::directory ? "directory (end the path with '/' to take it)"
                                                                 : "symbolic link, not a file"));
      return PlainData::view(ctx.inputs[0], it->offset, it->size);  // shares the archive's bytes
    }
    throw TaskFailure(std::string(symbol) + ": the directory has no file '" + wanted + "'");
  }
  tar::Writer writer;
  bool found = path.empty();
  std::string prefix = path + "/";
  for (auto& entry : entries) {
    if (entry.path == path && entry.type == tar::EntryType::directory) found = true;
    if (!path.empty() && entry.path.compare(0, prefix.size(), prefix) != 0) continue;
    found = true;
    std::string inner = path.empty() ? entry.path : entry.path.substr(prefix.size());
    switch (entry.type) {
      case tar::EntryType::directory: writer.add_directory(inner, entry.mode); break;
      case tar::EntryType::file: writer.add_file(inner, archive.substr(entry.offset, entry.size), entry.mode); break;
      case tar::EntryType::symlink: writer.add_symlink(inner, entry.link); break;
    }
  }
  if (!found) throw TaskFailure(std::string(symbol) + ": the directory has no directory '" + wanted + "'");
  return PlainData::from_string(writer.finish());
}

std::string read_whole_file(std::string_view symbol, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw TaskFailure(std::string(symbol) + ": cannot open " + path + ": " + errno_text(errno));
  if (S_ISDIR(st.st_mode))
    throw TaskFailure(std::string(symbol) + ": " + path + " is a directory (LoadDir loads directories)");
  if (st.st_size == 0) return {};
  try {
    // A copy, not the mapping: Rain's Load takes the file in, so later changes to it do not show.
    return std::string(PlainData::map_file(path)->raw());
  } catch (const DataError& error) {
    throw TaskFailure(std::string(symbol) + ": " + error.what());
  }
}

DataPtr load_task(TaskContext& ctx) {
  if (!ctx.inputs.empty()) fail_shape(symbols::load, "no inputs and a path", ctx);
  std::string path = absolute_path(symbols::load, std::string(ctx.config));
  return PlainData::from_string(read_whole_file(symbols::load, path));
}

DataPtr load_dir_task(TaskContext& ctx) {
  if (!ctx.inputs.empty()) fail_shape(symbols::load_dir, "no inputs and a path", ctx);
  std::string path = absolute_path(symbols::load_dir, std::string(ctx.config));
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw TaskFailure(std::string(symbols::load_dir) + ": " + path + " is not a directory");
  try {
    return PlainData::from_string(tar::pack_directory(path));
  } catch (const DataError& error) {
    throw TaskFailure(std::string(symbols::load_dir) + ": " + error.what());
  }
}

DataPtr store_task(TaskContext& ctx) {
  const auto symbol = symbols::store;
  if (ctx.inputs.size() != 1) fail_shape(symbol, "1 input and a JSON config with a path", ctx);
  auto config = json_config(symbol, ctx);
  if (!config.contains("path") || !config["path"].is_string())
    throw TaskFailure(std::string(symbol) + ": config needs a \"path\"");
  std::string path = absolute_path(symbol, config["path"].get<std::string>());
  if (config.value("dir", false)) {
    std::string_view archive = archive_input(symbol, ctx, 0);
    if (::mkdir(path.c_str(), 0755) != 0)
      throw TaskFailure(std::string(symbol) + ": cannot create directory " + path + ": " + errno_text(errno));
    try {
      tar::extract(archive, path, false);
    } catch (const DataError& error) {
      throw TaskFailure(std::string(symbol) + ": " + error.what());
    }
  } else {
    write_file(path, dobject_input(symbol, ctx, 0));
  }
  return std::make_shared<ArrayData>(std::vector<DataPtr>{});  // no outputs
}

}  // namespace

void register_directory_tasks(TaskRegistry& registry) {
  registry.add(std::string(symbols::make_directory), make_directory_task, Threading::inline_if_small);
  registry.add(std::string(symbols::slice_directory), slice_directory_task, Threading::inline_if_small);
  registry.add(std::string(symbols::load), load_task, Threading::own_thread);
  registry.add(std::string(symbols::load_dir), load_dir_task, Threading::own_thread);
  registry.add(std::string(symbols::store), store_task, Threading::own_thread);
}

}  // namespace treadle::builtin
