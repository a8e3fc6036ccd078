"""A generator passed to a ``@remote`` function (Rain's guide, "Inputs": "It is possible to pass
also generators as arguments to remote functions, and it works as expected").

A generator cannot be pickled, so the client runs it when the task is made and sends the values
it yielded; the function gets a generator over them. Its data objects become the task's inputs
as anywhere in the arguments. Unlike Rain, only the objects the generator yielded are inputs,
not every object its expression refers to (the guide's note on filtering generators)."""


def generator_over(values):
    """The function's argument: a new generator yielding ``values`` in order."""
    return (value for value in values)
