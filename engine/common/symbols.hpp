#pragma once
// Symbols of the built-in task types. The server accepts these before any worker has
// announced what it offers; workers with extra task types announce them on hello.
#include <string_view>

namespace treadle::symbols {

inline constexpr std::string_view const_ = "loom/data/const";
inline constexpr std::string_view merge = "loom/data/merge";
inline constexpr std::string_view open = "loom/data/open";
inline constexpr std::string_view save = "loom/data/save";
inline constexpr std::string_view split = "loom/data/split";
inline constexpr std::string_view get = "loom/base/get";
inline constexpr std::string_view slice = "loom/base/slice";
inline constexpr std::string_view size = "loom/base/size";
inline constexpr std::string_view length = "loom/base/length";
inline constexpr std::string_view sleep = "loom/base/sleep";
inline constexpr std::string_view array_make = "loom/array/make";
inline constexpr std::string_view run = "loom/run/run";
inline constexpr std::string_view py_value = "loom/py/value";
// Rain's built-ins: directory objects (tar archives, data/tar_archive.hpp) and files.
inline constexpr std::string_view make_directory = "rain/make_directory";
inline constexpr std::string_view slice_directory = "rain/slice_directory";
inline constexpr std::string_view load = "rain/load";
inline constexpr std::string_view load_dir = "rain/load_dir";
inline constexpr std::string_view store = "rain/store";
// Run by the worker's Python executors, not by a C++ task (so not in the registry).
inline constexpr std::string_view py_call = "loom/py/call";
// A py_call config that starts so cuts the PyObj input (a sequence) instead of calling it:
// item + u64 i gives obj[i], slice + u64 from + u64 to gives obj[from:to] (dslice/dget of a
// PyObj; python/treadle/executor.py). No pickle starts with a NUL byte.
inline constexpr std::string_view python_item_marker{"\0treadle/item", 13};
inline constexpr std::string_view python_slice_marker{"\0treadle/slice", 14};
// Expanded by the scheduler at run time; no worker runs them.
inline constexpr std::string_view dslice = "loom/scheduler/dslice";
inline constexpr std::string_view dget = "loom/scheduler/dget";

inline constexpr std::string_view builtins[] = {const_, merge, open, save, split, get, slice,
                                                size, length, sleep, array_make, run, py_value,
                                                make_directory, slice_directory, load, load_dir, store};

}  // namespace treadle::symbols
