#pragma once
// A file on a shared file system. It reads like a plain object, but a transfer between
// workers moves only the path.
#include <string>

#include "data.hpp"

namespace treadle {

class FileData final : public Data {
 public:
  // Throws DataError if the file cannot be opened.
  explicit FileData(std::string path);
  DataKind kind() const override { return DataKind::file; }
  std::size_t size() const override { return content_->size(); }
  std::string_view raw() const override { return content_->raw(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  DataPtr content_;  // the file mapped read-only
};

}  // namespace treadle
