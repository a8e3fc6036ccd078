#pragma once
// The live workers ordered by how busy they are, so placement finds the least busy worker that
// fits without walking the worker list: that walk cost 6 us per task at 1,000 workers and
// 109 us at 10,000 (the scheduler simulator, bench/sim, measured it).
//
// Two orders. For cpu tasks, most free cpus first: one list per value of free cpus (a worker
// joins the back of its new list when its free cpus change or its light tasks grow, the front
// when its light tasks shrink, so among equally free workers the one that has been so longest,
// or lost light work, comes first); moving a worker costs O(1), and the map holds only the few
// distinct values in use. For light tasks, fewest light tasks per cpu first (then lowest id),
// in a set. A worker's load is read before it changes and its entries moved after
// (Scheduler::change_load does both).
//
// The light order is brought up to date when it is read, not at each change: a worker's report
// of 300 finished light tasks moves its entry once, not 300 times, and each move takes the
// entry out by its iterator and puts it back at an end when it belongs there (placement's
// round robin), without a search. The set's rebalancing per change was the top grower of the
// server's CPU from 2 to 32 workers (bench/README.md, 3b).
//
// The index holds only the workers placement may choose (live, not retiring) and their list
// links (8 bytes per worker, in one array); placement reads a candidate's load from its
// WorkerInfo (Scheduler::fits), the line a report or an assignment of that worker touches
// anyway. A compact copy of the load here (28 bytes per worker) was a second line per worker
// event: with 10,000 workers those lines and the records no longer fit a 1 MB cache beside the
// task records (bench/README.md, "One line per worker event").
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "worker_info.hpp"

namespace treadle {

class WorkerIndex {
 public:
  void insert(const WorkerInfo& w) {
    if (w.id >= links_.size()) {
      links_.resize(w.id + 1);
      listed_.resize(w.id + 1, 0);
      light_.resize(w.id + 1);
    }
    listed_[w.id] = 1;
    link(w.id, w.free_cpus);
    Light& l = light_[w.id];
    l.tasks = w.light_tasks;
    l.stale = false;
    l.entry = by_light_.insert(LightKey{w.light_tasks, w.cpus, w.id}).first;
    if (w.free_cpus + w.queue_cpus > 0) ++with_room_;
    if (w.light_room()) ++with_light_room_;
  }
  // Takes a worker out (lost, or retiring); a worker not listed stays out.
  void erase(const WorkerInfo& w) {
    if (!listed(w.id)) return;
    listed_[w.id] = 0;
    unlink(w.id, w.free_cpus);
    Light& l = light_[w.id];
    by_light_.erase(l.entry);
    l.entry = by_light_.end();
    l.stale = false;  // its entry in stale_light_, if any, is skipped
    if (w.free_cpus + w.queue_cpus > 0) --with_room_;
    if (w.light_room()) --with_light_room_;
  }

  // What the keys are made of, read before a change.
  struct Load {
    std::int32_t free_cpus;
    std::uint32_t light_tasks;
    std::int32_t queue_cpus;
    bool light_room;
  };
  static Load load_of(const WorkerInfo& w) { return {w.free_cpus, w.light_tasks, w.queue_cpus, w.light_room()}; }
  void update(const Load& before, const WorkerInfo& w) {
    if (!listed(w.id)) return;
    if (before.free_cpus != w.free_cpus || before.light_tasks < w.light_tasks) {
      unlink(w.id, before.free_cpus);
      link(w.id, w.free_cpus);  // at the back: among as free workers, busier with light tasks last
    } else if (before.light_tasks > w.light_tasks) {
      unlink(w.id, before.free_cpus);
      link(w.id, w.free_cpus, true);  // at the front: its light tasks went down
    }
    if (before.light_tasks != w.light_tasks) {
      Light& l = light_[w.id];
      l.tasks = w.light_tasks;
      if (!l.stale) {
        l.stale = true;
        stale_light_.push_back(w.id);
      }
    }
    with_room_ += std::size_t(w.free_cpus + w.queue_cpus > 0) - std::size_t(before.free_cpus + before.queue_cpus > 0);
    with_light_room_ += std::size_t(w.light_room()) - std::size_t(before.light_room);
  }
  // A worker placement may choose: live and not retiring.
  bool listed(WorkerId id) const { return id < listed_.size() && listed_[id]; }

  // Workers that may take another cpu task (cpus free, or room in their queue).
  std::size_t with_room() const { return with_room_; }
  // Workers that may be sent another light task (WorkerInfo::light_room).
  std::size_t with_light_room() const { return with_light_room_; }

  // Workers with fewer than `below` cpus free, fewest first (the longest queues: work stealing's
  // victims), until `visit` returns true. `visit` must not change loads.
  template <typename Visit>
  void busiest(std::int32_t below, Visit&& visit) const {
    for (auto it = by_free_.rbegin(); it != by_free_.rend() && it->first < below; ++it)
      for (WorkerId id = it->second.head; id != no_worker; id = links_[id].next)
        if (visit(id)) return;
  }

  // The first worker in the order for a task of `cpus` (0: light) that `fits`, or no_worker.
  // For a cpu task the walk stops at the first worker with fewer than `min_free` cpus free (none
  // after it has more), so a pass that finds every worker busy costs one step, not one per
  // worker. It stops at the first fit: looking on for a second one (was there a choice?) walked
  // every worker whenever one alone had room, which grew the cost per task with the workers
  // (bench/README.md, "The scheduler simulator"); TypeOffers answers that question instead.
  template <typename Fits>
  WorkerId least_busy(std::uint32_t cpus, std::int32_t min_free, Fits&& fits) const {
    if (cpus) {
      for (const auto& [free, list] : by_free_) {
        if (free < min_free) break;
        for (WorkerId id = list.head; id != no_worker; id = links_[id].next)
          if (fits(id)) return id;
      }
    } else {
      refresh_light_order();
      for (const auto& key : by_light_)
        if (fits(key.id)) return key.id;
    }
    return no_worker;
  }

 private:
  struct List {
    WorkerId head = no_worker, tail = no_worker;
  };
  struct Links {
    WorkerId prev = no_worker, next = no_worker;  // in its list of equally free workers
  };
  struct LightKey {
    std::uint32_t light_tasks;
    std::uint32_t cpus;
    WorkerId id;
    bool operator<(const LightKey& o) const {
      const std::uint64_t a = std::uint64_t{light_tasks} * o.cpus, b = std::uint64_t{o.light_tasks} * cpus;
      return a != b ? a < b : id < o.id;
    }
  };

  using LightSet = std::set<LightKey>;
  // A worker's place in the light order: the light tasks it has now, and its entry in the set
  // (keyed with the count it had when last placed there).
  struct Light {
    std::uint32_t tasks = 0;
    bool stale = false;  // tasks differs from the entry's key: listed in stale_light_
    LightSet::iterator entry;
  };

  // Moves the entries of workers whose light tasks changed since they were placed in the set.
  // Called before the set is read; it changes no worker's load (so `const` readers may call it).
  void refresh_light_order() const {
    for (WorkerId id : stale_light_) {
      Light& l = light_[id];
      if (!l.stale) continue;  // erased meanwhile, or listed twice
      l.stale = false;
      if (l.entry->light_tasks == l.tasks) continue;  // back where it was
      auto node = by_light_.extract(l.entry);
      node.value().light_tasks = l.tasks;
      // At the back when it is now the busiest, at the front when the least busy: no search.
      auto hint = by_light_.end();
      if (!by_light_.empty() && !(*by_light_.rbegin() < node.value())) hint = by_light_.begin();
      l.entry = by_light_.insert(hint, std::move(node));
    }
    stale_light_.clear();
  }

  void link(WorkerId id, std::int32_t free_cpus, bool front = false) {
    List& list = by_free_[free_cpus];
    Links& s = links_[id];
    if (front) {
      s.prev = no_worker;
      s.next = list.head;
      if (list.head != no_worker) links_[list.head].prev = id;
      else list.tail = id;
      list.head = id;
      return;
    }
    s.prev = list.tail;
    s.next = no_worker;
    if (list.tail != no_worker) links_[list.tail].next = id;
    else list.head = id;
    list.tail = id;
  }
  // `free_cpus`: what the worker had when it was linked (its list's key).
  void unlink(WorkerId id, std::int32_t free_cpus) {
    const Links& l = links_[id];
    auto it = by_free_.find(free_cpus);
    assert(it != by_free_.end() && "a listed worker's load changes only through Scheduler::change_load");
    List& list = it->second;
    if (l.prev != no_worker) links_[l.prev].next = l.next;
    else list.head = l.next;
    if (l.next != no_worker) links_[l.next].prev = l.prev;
    else list.tail = l.prev;
    if (list.head == no_worker) by_free_.erase(it);
  }

  std::map<std::int32_t, List, std::greater<std::int32_t>> by_free_;  // most free cpus first
  std::vector<Links> links_;                                          // by worker id
  std::vector<std::uint8_t> listed_;                                  // by worker id: may be chosen
  // The light order is a cache of the workers' light counts, brought up to date by its readers.
  mutable LightSet by_light_;
  mutable std::vector<Light> light_;  // by worker id
  mutable std::vector<WorkerId> stale_light_;
  std::size_t with_room_ = 0;
  std::size_t with_light_room_ = 0;
};

}  // namespace treadle
