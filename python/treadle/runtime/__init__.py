"""What runs on the workers' side: the executor process (``executor``), what a task sees while it
runs (``task_runtime``), clients made inside tasks (``task_clients``), the pipe framing between
worker and executor (``pipe``) and the body of ``%%treadle task`` cells (``cell``)."""
