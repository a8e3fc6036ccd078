"""IPython's task interface on treadle (``client``: TaskClient, Task, TaskResult and the part of
MultiEngineClient it leans on), an API beside the native one and HyperLoom's. Each Python
executor of a worker is an engine whose namespace lives on between tasks (runtime.engine is the
engine's side). Never a top-level ``IPython`` package: that would shadow the IPython Jupyter runs
on."""
