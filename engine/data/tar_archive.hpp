#pragma once
// Directory objects (Rain's "dir" data type) are tar archives held as plain bytes: they move
// between workers as one object, clients get them as a tar, and tasks that need the tree
// (Execute's sandbox, Store) unpack them. This is the tar reading and writing they share:
// POSIX ustar with pax records for long names and large sizes; GNU long names, hard links and
// the "./" prefixes of Python's tarfile are read too. Paths stay inside the tree: absolute
// names and ".." are refused, links are made after every file, and nothing is written
// through a link.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace treadle::tar {

enum class EntryType { file, directory, symlink };

struct Entry {
  std::string path;  // relative, normalised ("a/b"): no "./", no trailing '/'
  EntryType type = EntryType::file;
  unsigned mode = 0644;     // permission bits
  std::size_t offset = 0;   // a file's bytes in the archive
  std::size_t size = 0;
  std::string link;         // a symlink's target
};

// The entries of `archive` in order (a hard link is the file it names). Throws DataError
// saying what is wrong: not a tar, truncated, an unsupported entry, a path leaving the tree.
std::vector<Entry> read_entries(std::string_view archive);

// "a/./b/" -> "a/b"; "" for the root. Throws DataError for an absolute path or a "..".
std::string normalise_path(std::string_view path, std::string_view what);

// Builds an archive entry by entry; finish() ends it.
class Writer {
 public:
  void add_directory(std::string_view path, unsigned mode = 0755);
  void add_file(std::string_view path, std::string_view content, unsigned mode = 0644);
  void add_symlink(std::string_view path, std::string_view target);
  // Adds every entry of `archive` under `prefix` ("" for the root), with their parents.
  void add_archive(std::string_view prefix, std::string_view archive);
  // Adds the missing parent directories of `path`, so extractors see each one.
  void add_parents(std::string_view path);
  std::string finish();

 private:
  void header(std::string_view path, char type, std::size_t size, unsigned mode, std::string_view link);
  std::string out_;
  std::vector<std::string> directories_;  // added so far (their parents need not be added again)
};

// The archive of the tree under `root` (its contents, not `root` itself), in name order.
// Throws DataError for an entry that is not a file, directory or symlink, or an unreadable one.
std::string pack_directory(const std::filesystem::path& root);

// Unpacks `archive` into the existing directory `target`. `read_only`: files lose their write
// bits and directories become 0555 (Rain's link mapping); else the owner may write everything.
// Throws DataError.
void extract(std::string_view archive, const std::filesystem::path& target, bool read_only);

// Creates the directories of relative `path` under `root` one by one, refusing to pass through
// anything that is not a real directory (a symlink could lead outside). Throws DataError.
void make_real_directories(const std::filesystem::path& root, std::string_view path);

// Makes every directory under `root` writable again, so it can be removed (read-only mappings).
void make_removable(const std::filesystem::path& root);

}  // namespace treadle::tar
