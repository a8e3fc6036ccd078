"""``python3 -m treadle.executor``: the name the worker starts its Python executors by
(engine/worker/executor_pool.cpp); the executor itself is treadle.runtime.executor."""

from .runtime.executor import main

if __name__ == "__main__":
    main()
