#pragma once
// Same-host handoff: a worker fetching a large object from a worker on its own host takes it
// by its kept file (kept_files.hpp) instead of its bytes. The fetch says who asks (its host
// identity); the holder, on the same host, answers with the file's path and identity; the
// fetcher hard-links the file into its own kept files and maps it read-only (objects are
// immutable), so the holder freeing or losing its copy later harms nothing. Whatever cannot
// be taken so (another file system, a file gone or changed) comes over the network instead.
//
// Off with the worker's --no-same-host-handoff or TREADLE_SAME_HOST_HANDOFF=0: network
// namespaces on one machine (tests/multihost) share its file system and boot id, and a test
// or benchmark of the network path wants the bytes to move.
#include <filesystem>
#include <string>

#include "../common/ids.hpp"
#include "../common/protocol.hpp"
#include "../data/data.hpp"

namespace treadle {

// Boot id, host name and uid: equal only for processes of one user on one running system.
std::string host_identity();

// False when $TREADLE_SAME_HOST_HANDOFF is "0".
bool same_host_handoff_allowed_by_environment();

// What a peer on this host needs to take `data` by its file: id, path, size and the file's
// identity; null when the object has no kept file, or the file is no longer the one mapped.
json describe_for_handoff(ObjectId id, const DataPtr& data);

// Takes an object a peer on this host described: links its file into `work_dir`'s kept files,
// maps it, and checks it is the file described (same device, inode, size and mtime) and ours
// (owned by our uid, a regular file). Throws DataError saying why when it cannot.
DataPtr adopt_handed_file(const json& described, const std::filesystem::path& work_dir);

}  // namespace treadle
