#include "tar_archive.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "../common/write_all.hpp"
#include "data.hpp"
#include "plain.hpp"

namespace treadle::tar {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t block = 512;

std::string error_text(int error) {
  char buffer[256];
  return ::strerror_r(error, buffer, sizeof buffer);
}

[[noreturn]] void fail(const std::string& problem) { throw DataError("directory archive: " + problem); }

std::size_t padded(std::size_t size) { return (size + block - 1) / block * block; }

// Numeric header fields: octal text (spaces and NULs around it), or base-256 when the first
// byte has its high bit set (GNU's form for values too large for octal).
std::uint64_t read_number(std::string_view field) {
  if (!field.empty() && (static_cast<unsigned char>(field[0]) & 0x80)) {
    std::uint64_t value = static_cast<unsigned char>(field[0]) & 0x7f;
    for (std::size_t i = 1; i < field.size(); ++i) {
      if (value >> 56) fail("a number field is too large");
      value = value << 8 | static_cast<unsigned char>(field[i]);
    }
    return value;
  }
  std::uint64_t value = 0;
  std::size_t i = 0;
  while (i < field.size() && field[i] == ' ') ++i;
  for (; i < field.size() && field[i] >= '0' && field[i] <= '7'; ++i) value = value * 8 + (field[i] - '0');
  for (; i < field.size(); ++i)
    if (field[i] != ' ' && field[i] != '\0') fail("a header has a malformed number field");
  return value;
}

std::string_view text_field(std::string_view header, std::size_t offset, std::size_t size) {
  std::string_view field = header.substr(offset, size);
  return field.substr(0, std::min(field.find('\0'), field.size()));
}

std::uint64_t read_decimal(const std::string& text) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
    fail("a pax size is malformed");
  return std::stoull(text);
}

bool all_zero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == '\0'; });
}

bool checksum_matches(std::string_view header) {
  std::uint64_t expected = 0;
  try {
    expected = read_number(header.substr(148, 8));
  } catch (const DataError&) {
    return false;  // not even a number: not a header
  }
  std::uint64_t unsigned_sum = 0;
  std::int64_t signed_sum = 0;  // some old writers summed signed chars
  for (std::size_t i = 0; i < block; ++i) {
    char c = (i >= 148 && i < 156) ? ' ' : header[i];
    unsigned_sum += static_cast<unsigned char>(c);
    signed_sum += static_cast<signed char>(c);
  }
  return expected == unsigned_sum || static_cast<std::int64_t>(expected) == signed_sum;
}

// pax extended header records: "LEN key=value\n", LEN counting the whole record.
void read_pax(std::string_view records, std::map<std::string, std::string>& out) {
  while (!records.empty()) {
    std::size_t space = records.find(' ');
    if (space == std::string_view::npos || space == 0) fail("a pax header is malformed");
    std::size_t length = 0;
    for (char c : records.substr(0, space)) {
      if (c < '0' || c > '9') fail("a pax header is malformed");
      length = length * 10 + (c - '0');
      if (length > records.size()) fail("a pax header is malformed");
    }
    if (length <= space + 1 || records[length - 1] != '\n') fail("a pax header is malformed");
    std::string_view record = records.substr(space + 1, length - space - 2);
    std::size_t equals = record.find('=');
    if (equals == std::string_view::npos) fail("a pax header is malformed");
    out[std::string(record.substr(0, equals))] = std::string(record.substr(equals + 1));
    records.remove_prefix(length);
  }
}

std::string pax_record(std::string_view key, std::string_view value) {
  std::size_t body = key.size() + value.size() + 3;  // ' ', '=', '\n'
  std::size_t length = body + 1;
  while (std::to_string(length).size() + body != length) length = std::to_string(length).size() + body;
  return std::to_string(length) + " " + std::string(key) + "=" + std::string(value) + "\n";
}

void write_octal(char* field, std::size_t size, std::uint64_t value) {
  // size-1 digits and a NUL, as ustar asks.
  for (std::size_t i = size - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  field[size - 1] = '\0';
}

std::string parent_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

std::string join(std::string_view prefix, std::string_view path) {
  if (prefix.empty()) return std::string(path);
  if (path.empty()) return std::string(prefix);
  return std::string(prefix) + "/" + std::string(path);
}

}  // namespace

std::string normalise_path(std::string_view path, std::string_view what) {
  if (!path.empty() && path.front() == '/')
    fail(std::string(what) + " '" + std::string(path) + "' is absolute; paths stay inside the directory");
  std::string out;
  while (!path.empty()) {
    std::size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    path.remove_prefix(slash == std::string_view::npos ? path.size() : slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") fail(std::string(what) + " has a '..'; paths stay inside the directory");
    if (!out.empty()) out += '/';
    out.append(part);
  }
  return out;
}

std::vector<Entry> read_entries(std::string_view archive) {
  std::vector<Entry> entries;
  std::map<std::string, std::size_t> files;  // path -> entry, for hard links
  std::map<std::string, std::string> pax;    // applies to the next entry
  std::string long_name, long_link;
  std::size_t at = 0;
  while (at + block <= archive.size()) {
    std::string_view header = archive.substr(at, block);
    if (all_zero(header)) break;  // the end marker
    if (!checksum_matches(header)) fail(entries.empty() && at == 0 ? "not a tar archive (bad header checksum)"
                                                                   : "a header's checksum is wrong");
    char type = header[156];
    std::uint64_t size = read_number(header.substr(124, 12));
    if (auto it = pax.find("size"); it != pax.end()) size = read_decimal(it->second);
    std::size_t data = at + block;
    if (size > archive.size() - data) fail("the archive is truncated");
    std::string_view content = archive.substr(data, size);
    at = data + padded(size);
    if (type == 'x') {
      read_pax(content, pax);
      continue;
    }
    if (type == 'g') continue;  // global pax records: nothing we use
    if (type == 'L' || type == 'K') {
      (type == 'L' ? long_name : long_link) = std::string(content.substr(0, std::min(content.find('\0'), content.size())));
      continue;
    }
    std::string name;
    if (auto it = pax.find("path"); it != pax.end()) name = it->second;
    else if (!long_name.empty()) name = long_name;
    else {
      name = std::string(text_field(header, 0, 100));
      bool ustar = header.substr(257, 6) == std::string_view("ustar\0", 6);
      std::string_view prefix = ustar ? text_field(header, 345, 155) : std::string_view();
      if (!prefix.empty()) name = std::string(prefix) + "/" + name;
    }
    std::string link = std::string(text_field(header, 157, 100));
    if (auto it = pax.find("linkpath"); it != pax.end()) link = it->second;
    else if (!long_link.empty()) link = long_link;
    pax.clear();
    long_name.clear();
    long_link.clear();

    Entry entry;
    entry.mode = static_cast<unsigned>(read_number(header.substr(100, 8))) & 07777;
    bool slash_end = !name.empty() && name.back() == '/';
    entry.path = normalise_path(name, "entry '" + name + "'");
    if (type == '5' || ((type == '0' || type == '\0') && slash_end)) {
      entry.type = EntryType::directory;
      if (entry.path.empty()) continue;  // the root itself ("." or "./")
    } else if (type == '0' || type == '\0' || type == '7') {
      entry.type = EntryType::file;
      entry.offset = data;
      entry.size = size;
    } else if (type == '1') {
      auto target = files.find(normalise_path(link, "hard link target '" + link + "'"));
      if (target == files.end()) fail("hard link '" + name + "' names '" + link + "', which is not an earlier file");
      entry.type = EntryType::file;
      entry.offset = entries[target->second].offset;
      entry.size = entries[target->second].size;
    } else if (type == '2') {
      entry.type = EntryType::symlink;
      entry.link = link;
    } else {
      fail("entry '" + name + "' is of type '" + std::string(1, type) +
           "'; directories hold files, directories and symbolic links only");
    }
    if (entry.path.empty()) fail("a file entry has no name");
    if (entry.type == EntryType::file) files[entry.path] = entries.size();
    entries.push_back(std::move(entry));
  }
  if (entries.empty() && !archive.empty() && archive.size() < block)
    fail("not a tar archive (" + std::to_string(archive.size()) + " bytes)");
  return entries;
}

// -- writing ---------------------------------------------------------------------------------

void Writer::header(std::string_view path, char type, std::size_t size, unsigned mode, std::string_view link) {
  std::string pax;
  if (path.size() > 99) pax += pax_record("path", path);
  if (link.size() > 99) pax += pax_record("linkpath", link);
  if (size > 077777777777ull) pax += pax_record("size", std::to_string(size));
  if (!pax.empty()) {
    header("././@PaxHeader", 'x', pax.size(), 0644, {});
    out_ += pax;
    out_.append(padded(pax.size()) - pax.size(), '\0');
  }
  std::size_t start = out_.size();
  out_.append(block, '\0');
  char* h = out_.data() + start;
  std::memcpy(h, path.data(), std::min<std::size_t>(path.size(), 100));
  write_octal(h + 100, 8, mode & 07777);
  write_octal(h + 108, 8, 0);  // uid
  write_octal(h + 116, 8, 0);  // gid
  write_octal(h + 124, 12, size > 077777777777ull ? 0 : size);
  write_octal(h + 136, 12, 0);  // mtime: the same tree gives the same bytes
  h[156] = type;
  std::memcpy(h + 157, link.data(), std::min<std::size_t>(link.size(), 100));
  std::memcpy(h + 257, "ustar\0" "00", 8);
  std::uint64_t sum = 0;
  std::memset(h + 148, ' ', 8);
  for (std::size_t i = 0; i < block; ++i) sum += static_cast<unsigned char>(h[i]);
  write_octal(h + 148, 7, sum);
  h[155] = ' ';
}

void Writer::add_parents(std::string_view path) {
  std::string parent = parent_of(path);
  if (parent.empty() || std::find(directories_.begin(), directories_.end(), parent) != directories_.end()) return;
  add_parents(parent);
  directories_.push_back(parent);
  header(parent + "/", '5', 0, 0755, {});
}

void Writer::add_directory(std::string_view path, unsigned mode) {
  std::string name = normalise_path(path, "directory '" + std::string(path) + "'");
  if (name.empty() || std::find(directories_.begin(), directories_.end(), name) != directories_.end()) return;
  add_parents(name);
  directories_.push_back(name);
  header(name + "/", '5', 0, mode, {});
}

void Writer::add_file(std::string_view path, std::string_view content, unsigned mode) {
  std::string name = normalise_path(path, "file '" + std::string(path) + "'");
  if (name.empty()) fail("a file needs a name");
  add_parents(name);
  header(name, '0', content.size(), mode, {});
  out_.append(content);
  out_.append(padded(content.size()) - content.size(), '\0');
}

void Writer::add_symlink(std::string_view path, std::string_view target) {
  std::string name = normalise_path(path, "link '" + std::string(path) + "'");
  if (name.empty()) fail("a link needs a name");
  add_parents(name);
  header(name, '2', 0, 0777, target);
}

void Writer::add_archive(std::string_view prefix, std::string_view archive) {
  std::string base = normalise_path(prefix, "directory '" + std::string(prefix) + "'");
  if (!base.empty()) add_directory(base);
  for (auto& entry : read_entries(archive)) {
    std::string path = join(base, entry.path);
    switch (entry.type) {
      case EntryType::directory: add_directory(path, entry.mode); break;
      case EntryType::file: add_file(path, archive.substr(entry.offset, entry.size), entry.mode); break;
      case EntryType::symlink: add_symlink(path, entry.link); break;
    }
  }
}

std::string Writer::finish() {
  out_.append(2 * block, '\0');
  return std::move(out_);
}

// -- the file system -------------------------------------------------------------------------

namespace {

void pack_into(Writer& writer, const fs::path& root, const std::string& relative) {
  fs::path dir = relative.empty() ? root : root / relative;
  DIR* handle = ::opendir(dir.c_str());
  if (!handle) fail("cannot read directory '" + dir.string() + "': " + error_text(errno));
  std::vector<std::string> names;
  while (dirent* item = ::readdir(handle)) {
    std::string name = item->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(handle);
  std::sort(names.begin(), names.end());
  for (auto& name : names) {
    std::string path = join(relative, name);
    fs::path full = root / path;
    struct stat st {};
    if (::lstat(full.c_str(), &st) != 0) fail("cannot read '" + full.string() + "': " + error_text(errno));
    unsigned mode = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
      writer.add_directory(path, mode);
      pack_into(writer, root, path);
    } else if (S_ISREG(st.st_mode)) {
      DataPtr content = st.st_size == 0 ? PlainData::from_string({}) : PlainData::map_file(full.string());
      writer.add_file(path, content->raw(), mode);
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlink(full.c_str(), target.data(), target.size());
      if (n < 0) fail("cannot read link '" + full.string() + "': " + error_text(errno));
      target.resize(static_cast<std::size_t>(n));
      writer.add_symlink(path, target);
    } else {
      fail("'" + path + "' is not a file, directory or symbolic link");
    }
  }
}

void write_file_bytes(int fd, std::string_view bytes, const fs::path& path) {
  if (int error = write_all(fd, bytes)) {
    ::close(fd);
    fail("cannot write '" + path.string() + "': " + error_text(error));
  }
}

}  // namespace

std::string pack_directory(const fs::path& root) {
  Writer writer;
  pack_into(writer, root, "");
  return writer.finish();
}

void make_real_directories(const fs::path& root, std::string_view path) {
  fs::path at = root;
  for (auto& part : fs::path(normalise_path(path, "path '" + std::string(path) + "'"))) {
    at /= part;
    if (::mkdir(at.c_str(), 0755) == 0) continue;
    int error = errno;
    struct stat st {};
    if (error != EEXIST || ::lstat(at.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      fail("cannot create directory '" + std::string(path) + "': '" + at.lexically_relative(root).string() +
           (error == EEXIST ? "' exists and is not a directory" : "': " + error_text(error)));
  }
}

void extract(std::string_view archive, const fs::path& target, bool read_only) {
  auto entries = read_entries(archive);
  std::vector<std::pair<fs::path, unsigned>> directories;
  for (auto& entry : entries) {
    fs::path full = target / entry.path;
    if (entry.type == EntryType::directory) {
      make_real_directories(target, entry.path);
      directories.emplace_back(full, entry.mode);
    } else if (entry.type == EntryType::file) {
      make_real_directories(target, parent_of(entry.path));
      unsigned mode = read_only ? entry.mode & ~0222u : entry.mode | 0600;
      // O_NOFOLLOW: never write through a link; a later duplicate replaces the earlier file.
      int fd = ::open(full.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0) fail("cannot create '" + entry.path + "': " + error_text(errno));
      write_file_bytes(fd, archive.substr(entry.offset, entry.size), full);
      ::fchmod(fd, mode);
      if (::close(fd) != 0) fail("cannot write '" + entry.path + "': " + error_text(errno));
    }
  }
  // Links last, so that no file of this archive is written through one.
  for (auto& entry : entries) {
    if (entry.type != EntryType::symlink) continue;
    make_real_directories(target, parent_of(entry.path));
    if (::symlink(entry.link.c_str(), (target / entry.path).c_str()) != 0)
      fail("cannot create link '" + entry.path + "': " + error_text(errno));
  }
  // Deepest first, so that a read-only parent does not stop its children's chmod (non-root).
  for (auto it = directories.rbegin(); it != directories.rend(); ++it)
    ::chmod(it->first.c_str(), read_only ? (it->second & ~0222u) | 0555 : it->second | 0700);
}

void make_removable(const fs::path& root) {
  std::error_code error;
  ::chmod(root.c_str(), 0700);
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (it->is_directory(error) && !it->is_symlink(error)) ::chmod(it->path().c_str(), 0700);
  }
}

}  // namespace treadle::tar
