"""What runs on the workers' side: the executor process (``executor``), what a task sees while it
runs (``task_runtime``), clients made inside tasks (``task_clients``), the pipe framing between
worker and executor (``pipe``), code strings run as tasks (``cell``: ``%%treadle task`` cells) and
IPython's engines (``engine``); and, for the native API above, the configs of its calls
(``call_config``) and its waits with a timeout (``timed_wait``)."""
