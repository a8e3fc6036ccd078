// treadle-worker: connects to a server, runs tasks, serves data to other workers.
#include "worker/worker_main.hpp"

int main(int argc, char** argv) {
  treadle::TaskRegistry registry;
  treadle::register_builtin_tasks(registry);
  return treadle::run_worker_main(argc, argv, std::move(registry));
}
