// Data objects, their wire encoding, and the worker's data store (spilling).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <map>
#include <fstream>

#include "common/protocol.hpp"
#include "data/array.hpp"
#include "data/file.hpp"
#include "data/index.hpp"
#include "data/plain.hpp"
#include "data/pyobj.hpp"
#include "data/wire.hpp"
#include "worker/data_store.hpp"

using namespace treadle;
namespace fs = std::filesystem;

namespace {
std::string text(const DataPtr& d) { return std::string(d->raw()); }

fs::path temp_dir(const char* name) {
  auto dir = fs::temp_directory_path() / (std::string("treadle-test-") + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

DataPtr round_trip(const DataPtr& d) {
  std::vector<zmq::message_t> frames;
  json description = encode_data(d, frames);
  // Through msgpack, as on the wire.
  auto packed = json::to_msgpack(description);
  return decode_data(json::from_msgpack(packed), frames);
}
}  // namespace

TEST_CASE("plain objects have size, no length, and their bytes") {
  auto d = PlainData::from_string("hello");
  CHECK(d->kind() == DataKind::plain);
  CHECK(d->size() == 5);
  CHECK(d->length() == 0);
  CHECK(d->is_dobject());
  CHECK(text(d) == "hello");
  CHECK_THROWS_WITH(d->get(0), Catch::Contains("needs an array or an index"));
}

TEST_CASE("a view shares the bytes of its base") {
  auto base = PlainData::from_string("hello world");
  auto view = PlainData::view(base, 6, 5);
  CHECK(text(view) == "world");
  CHECK(view->raw().data() == base->raw().data() + 6);
  CHECK_THROWS_AS(PlainData::view(base, 8, 5), DataError);
}

TEST_CASE("arrays sum the sizes of their items") {
  auto a = std::make_shared<ArrayData>(std::vector<DataPtr>{PlainData::from_string("ab"), PlainData::from_string("cde")});
  CHECK(a->size() == 5);
  CHECK(a->length() == 2);
  CHECK(!a->is_dobject());
  CHECK(a->raw().empty());
  CHECK(text(a->get(1)) == "cde");
  CHECK_THROWS_WITH(a->get(2), Catch::Contains("out of range"));
  auto s = a->slice(1, 99);
  CHECK(s->length() == 1);
  CHECK(text(s->get(0)) == "cde");
}

TEST_CASE("an index is a view of a D-object cut at positions") {
  auto base = PlainData::from_string("one\ntwo\nthree\n");
  auto index = std::make_shared<IndexData>(base, std::vector<std::size_t>{0, 4, 8, 14});
  CHECK(index->length() == 3);
  CHECK(index->size() == 14);
  CHECK(text(index->get(1)) == "two\n");
  auto tail = index->slice(1, 3);  // the pieces' bytes joined, as HyperLoom
  CHECK(tail->kind() == DataKind::plain);
  CHECK(text(tail) == "two\nthree\n");
  CHECK(text(index->slice(0, 99)) == "one\ntwo\nthree\n");
  CHECK(text(index->slice(2, 2)).empty());
  CHECK(text(index->slice(3, 1)).empty());
  CHECK_THROWS_AS(IndexData(base, {0, 20}), DataError);
  CHECK_THROWS_AS(IndexData(base, {4, 2}), DataError);
  auto array = std::make_shared<ArrayData>(std::vector<DataPtr>{});
  CHECK_THROWS_WITH(IndexData(array, {0}), Catch::Contains("plain or file"));
}

TEST_CASE("file objects map the file and travel as a path") {
  auto dir = temp_dir("file");
  auto path = (dir / "f.txt").string();
  std::ofstream(path) << "content";
  auto f = std::make_shared<FileData>(path);
  CHECK(f->size() == 7);
  CHECK(text(f) == "content");
  std::vector<zmq::message_t> frames;
  json d = encode_data(f, frames);
  CHECK(frames.empty());
  CHECK(d["path"] == path);
  CHECK(text(round_trip(f)) == "content");
  CHECK_THROWS_WITH(FileData((dir / "missing").string()), Catch::Contains("missing"));
  auto empty = (dir / "empty").string();
  std::ofstream(empty).close();
  CHECK(FileData(empty).size() == 0);
  fs::remove_all(dir);
}

TEST_CASE("every kind survives the wire") {
  auto base = PlainData::from_string("a\nbb\nccc\n");
  auto index = std::make_shared<IndexData>(base, std::vector<std::size_t>{0, 2, 5, 9});
  auto nested = std::make_shared<ArrayData>(std::vector<DataPtr>{
      PlainData::from_string("x"), std::make_shared<ArrayData>(std::vector<DataPtr>{PlainData::from_string("y")}), index});
  auto back = round_trip(nested);
  REQUIRE(back->kind() == DataKind::array);
  REQUIRE(back->length() == 3);
  CHECK(text(back->get(0)) == "x");
  CHECK(text(back->get(1)->get(0)) == "y");
  auto index_back = back->get(2);
  CHECK(index_back->kind() == DataKind::index);
  CHECK(index_back->length() == 3);
  CHECK(text(index_back->get(2)) == "ccc\n");
}

TEST_CASE("arrays of many small plain items travel packed in two frames") {
  std::vector<DataPtr> items;
  for (int i = 0; i < 100; ++i) items.push_back(PlainData::from_string("item " + std::to_string(i)));
  items.push_back(PlainData::from_string(""));
  auto array = std::make_shared<ArrayData>(items);
  std::vector<zmq::message_t> frames;
  json d = encode_data(array, frames);
  CHECK(d["k"] == "plains");
  CHECK(frames.size() == 2);
  auto back = decode_data(json::from_msgpack(json::to_msgpack(d)), frames);
  REQUIRE(back->length() == 101);
  CHECK(text(back->get(0)) == "item 0");
  CHECK(text(back->get(99)) == "item 99");
  CHECK(back->get(100)->size() == 0);
  CHECK(back->size() == array->size());
  // A large item keeps the per-item, zero-copy form.
  items.push_back(PlainData::from_string(std::string(10000, 'x')));
  std::vector<zmq::message_t> frames2;
  CHECK(encode_data(std::make_shared<ArrayData>(items), frames2)["k"] == "array");
  std::vector<zmq::message_t> bad;
  bad.emplace_back("abc", 3);
  bad.push_back(frame_of(std::vector<std::uint64_t>{0, 5}));
  CHECK_THROWS_AS(decode_data(json{{"k", "plains"}, {"f", 0}, {"o", 1}}, bad), ProtocolError);
}

TEST_CASE("many objects in one data message: small ones packed, the rest described, missing ones said") {
  std::vector<ObjectEntry> objects = {
      {1, PlainData::from_string("a")},
      {2, std::make_shared<PyObjData>(PlainData::from_string("pickle"), 77)},
      {3, nullptr},
      {4, PlainData::from_string(std::string(5000, 'b'))},
      {5, std::make_shared<ArrayData>(std::vector<DataPtr>{PlainData::from_string("c")})},
  };
  json header = json::object();
  std::vector<zmq::message_t> frames;
  encode_objects(objects, header, frames);
  CHECK(count_objects(header) == 5);
  CHECK(header["packed"]["n"] == 1);
  CHECK(header["packed_py"]["n"] == 1);
  auto back = decode_objects(json::from_msgpack(json::to_msgpack(header)), frames);
  REQUIRE(back.size() == 5);
  std::map<std::uint64_t, DataPtr> by_id;
  for (auto& o : back) by_id[o.id] = o.data;
  CHECK(text(by_id[1]) == "a");
  REQUIRE(by_id[2]->kind() == DataKind::pyobj);
  CHECK(by_id[2]->size() == 77);
  CHECK(std::string(static_cast<const PyObjData&>(*by_id[2]).pickled()->raw()) == "pickle");
  CHECK(by_id[3] == nullptr);
  CHECK(by_id[4]->size() == 5000);
  CHECK(text(by_id[5]->get(0)) == "c");
}

TEST_CASE("large plain objects are sent without a copy and received without one") {
  std::string big(1 << 20, 'z');
  auto d = PlainData::from_string(big);
  std::vector<zmq::message_t> frames;
  json description = encode_data(d, frames);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].data() == static_cast<const void*>(d->raw().data()));
  const void* frame_bytes = frames[0].data();
  auto back = decode_data(description, frames);
  CHECK(static_cast<const void*>(back->raw().data()) == frame_bytes);
  CHECK(back->size() == big.size());
}

TEST_CASE("bad descriptions are protocol errors, not crashes") {
  std::vector<zmq::message_t> frames;
  CHECK_THROWS_AS(decode_data(json{{"k", "plain"}, {"f", 3}}, frames), ProtocolError);
  CHECK_THROWS_AS(decode_data(json{{"k", "weird"}}, frames), ProtocolError);
  CHECK_THROWS_AS(decode_data(json::array(), frames), ProtocolError);
  CHECK_THROWS_AS(decode_data(json{{"k", "array"}, {"items", 5}}, frames), ProtocolError);
}

TEST_CASE("the data store spills plain objects beyond its memory limit and keeps their bytes") {
  auto dir = temp_dir("spill");
  DataStore store(dir / "spill", 64 * 1024);
  for (TaskId id = 0; id < 8; ++id) store.put(id, PlainData::from_string(std::string(32 * 1024, char('a' + id))));
  CHECK(store.memory_bytes() <= 64 * 1024);
  CHECK(store.spilled_bytes() > 0);
  for (TaskId id = 0; id < 8; ++id) {
    auto d = store.find(id);
    REQUIRE(d);
    CHECK(d->size() == 32 * 1024);
    CHECK(d->raw()[100] == char('a' + id));
  }
  store.erase(3);
  CHECK_FALSE(store.contains(3));
  CHECK(store.count() == 7);
  fs::remove_all(dir);
}

TEST_CASE("the data store writes a big spill in slices, calling still_busy between them") {
  auto dir = temp_dir("spill-slices");
  DataStore store(dir / "spill", 1024 * 1024);
  int busy = 0;
  store.set_still_busy([&] { ++busy; });
  std::string bytes(40u << 20, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i % 251);
  store.put(1, PlainData::from_string(bytes));
  CHECK(store.spilled_bytes() == bytes.size());
  CHECK(busy >= 4);  // 40 MB in 8 MB slices: the worker's loop heartbeats between them
  auto d = store.find(1);
  REQUIRE(d);
  CHECK(d->raw() == std::string_view(bytes));
  fs::remove_all(dir);
}

TEST_CASE("messages frame a msgpack header and bulk frames; garbage is a ProtocolError") {
  zmq::context_t ctx;
  zmq::socket_t a(ctx, zmq::socket_type::pair), b(ctx, zmq::socket_type::pair);
  a.bind("inproc://protocol-test");
  b.connect("inproc://protocol-test");
  Message m(json{{"op", "ping"}, {"n", 3}});
  m.frames.emplace_back("bulk", 4);
  send_message(a, std::move(m));
  Message got;
  REQUIRE(recv_message(b, got, nullptr));
  CHECK(got.op() == "ping");
  CHECK(got.header["n"] == 3);
  REQUIRE(got.frames.size() == 1);
  CHECK(got.frames[0].to_string() == "bulk");

  a.send(zmq::str_buffer("\xc1 not msgpack"), zmq::send_flags::sndmore);
  a.send(zmq::str_buffer("tail"), zmq::send_flags::none);
  CHECK_THROWS_AS(recv_message(b, got, nullptr), ProtocolError);
  auto header = json::to_msgpack(json{{"no_op", 1}});
  a.send(zmq::buffer(header), zmq::send_flags::none);
  CHECK_THROWS_AS(recv_message(b, got, nullptr), ProtocolError);
  // The socket is still in step: a good message after the bad ones arrives whole.
  send_message(a, Message(json{{"op", "after"}}));
  REQUIRE(recv_message(b, got, nullptr));
  CHECK(got.op() == "after");
}
