#include "file.hpp"

#include "plain.hpp"

namespace treadle {

FileData::FileData(std::string path) : path_(std::move(path)), content_(PlainData::map_file(path_)) {}

}  // namespace treadle
