"""Rain's @remote: a Python function run as a task.

The function gets a context first (treadle.rain.executor.Context), then its arguments: any
Python values, pickled (cloudpickle when needed), in which every data object (or one-output
task), wherever it sits (in lists, dicts, tuples, attributes of objects), becomes an input of
the task and reaches the function as a DataInstance (or its loaded value: ``Input(load=True)``
or ``auto_load=True``). Per parameter, ``inputs={"name": Input(...)}`` or a type hint
``name: Input(...)`` says how; ``-> Output(...)`` or ``outputs=`` declares the outputs
(``outputs=N``, labels, Output objects with ``content_type``/``encode``), and the function
returns one value per output: a tuple, a list or a dict by label; each bytes, str, a
DataInstance, or a value its output's encode (or content type) encodes.

An argument that pickles to more than 256 KiB (Rain's PICKLE_ARG_SIZE_LIMIT) gives a
RainWarning: a blob() would travel once, an argument travels with every task.
"""

import functools
import inspect
import io
import pickle
import types
import warnings

import cloudpickle

from ...core.local_traceback import raised_from_call
from ...core.pickling import by_value_modules, dumps
from ...core.task import PY_CALL, OutputSpec, ResourceRequest, Task as CoreTask, shared_value
from ..common import RainException, RainWarning
from ..common.generator_arguments import generator_over
from ..executor.runner import Call, InputPlan, OutputPlan, RemoteRunner
from .data_object import DataObject
from .input import Input
from .output import Output, outputs_of
from .active import active_session
from .task import DEFAULT_LABEL, Task, data_object_of

PICKLE_ARG_SIZE_LIMIT = 256 * 1024
_dumps, _PROTOCOL = pickle.dumps, pickle.HIGHEST_PROTOCOL
_RUNNER_CONTEXT = 2   # a py_call config's context: the runner makes it (RemoteRunner.call_with_context)


class Remote:
    """What ``@remote`` makes: calling it creates a task in the active session (or
    ``session=``); ``name=`` names the task (default: the function's name)."""

    def __init__(self, fn, outputs=None, inputs=None, auto_load=False, auto_encode=None, name=None, cpus=1):
        if not callable(fn):
            raise RainException("remote() takes a function, not {!r}".format(fn))
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "remote")
        self.cpus = cpus
        self.signature = inspect.signature(fn)
        hints = getattr(fn, "__annotations__", {}) or {}
        returned = hints.get("return")
        if isinstance(returned, (Output, list, tuple)) or (isinstance(returned, int) and not isinstance(returned, bool)):
            if outputs is not None:
                raise RainException("{}: outputs given both by outputs= and by the return type hint".format(self.name))
            outputs = returned
        self.outputs = outputs_of(outputs)
        for o in self.outputs:
            if auto_encode and not o.encode and not o.content_type:
                o.encode = o.content_type = auto_encode
        self.inputs = {}
        for pname in list(self.signature.parameters)[1:]:
            spec = (inputs or {}).get(pname)
            if spec is None and isinstance(hints.get(pname), Input):
                spec = hints[pname]
            spec = spec or Input(label=pname)
            self.inputs[pname] = (spec.load if spec.load is not None else bool(auto_load), spec.content_type or "")
        unknown = set(inputs or ()) - set(self.inputs)
        if unknown:
            raise RainException("{}: inputs= names {} that the function does not take".format(
                self.name, ", ".join(sorted(unknown))))
        params = list(self.signature.parameters.values())[1:]
        self._positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self._star = next((p.name for p in params if p.kind == p.VAR_POSITIONAL), None)
        self._star_star = next((p.name for p in params if p.kind == p.VAR_KEYWORD), None)
        self._shapes = {}   # (number of arguments, keywords) -> "" or the TypeError's message
        self._counts_ok = set()   # numbers of arguments the function takes without keywords
        self._runner = RemoteRunner(fn, [OutputPlan(o.label, o.content_type, o.encode) for o in self.outputs],
                                    self.name, cpus)
        # What every call shares: its resource request, its outputs as the plan declares them
        # (None: HyperLoom's one unnamed output), its spec's config.
        self._request = ResourceRequest(cpus)
        self._function_input = None   # (the function's core task or handle,): the inputs of plain calls
        default = len(self.outputs) == 1 and self.outputs[0].label == DEFAULT_LABEL and not self.outputs[0].content_type
        self._core_outputs = None if default else [OutputSpec(o.label, o.content_type) for o in self.outputs]
        self._spec_config = {"function": getattr(fn, "__qualname__", self.name),
                             "encode_outputs": [o.encode for o in self.outputs]}
        functools.update_wrapper(self, fn)

    def __call__(self, *args, name=None, session=None, **kwargs):
        session = session or active_session()
        if kwargs or len(args) not in self._counts_ok:
            self._check_call(args, kwargs)
        runner = session.static_value(self._runner)
        if runner is None:   # the session's first call: its runner, pickled once (its session id in it)
            runner = session.add_static_value(self._runner, shared_value(self._runner.for_session(session.session_id)))
        plain = not kwargs
        if plain:
            for value in args:   # _all_plain(args), inlined: most calls
                kind = type(value)
                if kind not in _PLAIN or (kind is bytes or kind is str) and len(value) > PICKLE_ARG_SIZE_LIMIT:
                    plain = False
                    break
        if plain:
            # The common case: values that cannot hold a data object, no keywords. They are the
            # task's direct arguments, pickled now as HyperLoom's py_task does (its config
            # rewritten at submit if its spec was asked for meanwhile); the call is the
            # arguments' tuple itself, and the task's inputs are the function alone (one tuple
            # shared by the calls): the garbage collector walks every object made here.
            call = args
            config = _dumps((_RUNNER_CONTEXT, args), _PROTOCOL)
            inputs = self._function_input
            if inputs is None or inputs[0] is not runner:
                inputs = self._function_input = (runner,)
            objects = ()
        elif _all_plain(args) and _all_plain(kwargs.values()):
            call, config, inputs, objects = [args, kwargs, None], b"", (runner,), ()
        else:
            objects = []     # the distinct data objects in the arguments: input n of the task is objects[n]
            plans = []       # an InputPlan per object
            with raised_from_call:   # an argument's error shows the caller's frames, not ours
                pickled_args = [self._pickle(value, argument, objects, plans)
                                for value, argument in zip(args, self._positional_names(len(args)))]
                pickled_kwargs = {key: self._pickle(value, key, objects, plans) for key, value in kwargs.items()}
            call, config = [pickled_args, pickled_kwargs, plans], b""
            inputs = (runner,) + tuple(obj.core_ref() for obj in objects)
        # A py_call (core.task); a config not written yet is written at submit (before_submit),
        # when the spec is final.
        core = CoreTask(PY_CALL, inputs, config, name or self.name, self._request)
        if self._core_outputs is not None:
            core.outputs = self._core_outputs
        return Task(core, self.outputs, session, self._spec_config, self, call, objects)

    def before_submit(self, task):
        """The task's py_call config, from the spec as the client left it: ``ctx.spec.user``,
        the inputs' user attributes (one pickle). The session calls it for a task whose config
        is not written: a call with keywords or data objects, or one whose spec was made (so
        may have changed: Task.spec clears the config)."""
        # The call: the arguments' tuple (plain values, no keywords), or [args, kwargs, plans].
        args, kwargs, plans = (task.call, None, None) if type(task.call) is tuple else task.call
        spec = task.spec_if_made()
        if spec is not None:   # asked for, so maybe changed: it travels (else the runner makes the default)
            spec = {"user": dict(spec.user), "resources": dict(spec.resources)}
        if plans is None and spec is None and kwargs is None:
            task.core.config = _dumps((_RUNNER_CONTEXT, args), _PROTOCOL)
            return
        if plans is not None:
            for plan, obj in zip(plans, task.inputs):
                made = obj.spec_if_made()
                user = made.user if made is not None else None
                plan.user = dict(user) if user else None
        config = (_RUNNER_CONTEXT, (Call(spec, args, kwargs, plans),))
        # Plain values, ints, bytes and InputPlans pickle by reference safely; a user dict may
        # hold anything, so it goes through the by-value check.
        task.core.config = dumps(config) if spec is not None else pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)

    def _check_call(self, args, kwargs):
        """A TypeError now for a call the function cannot take (whether it can depends only on
        the number of arguments and the keywords: the answer is kept)."""
        shape = (len(args), tuple(kwargs))
        error = self._shapes.get(shape)
        if error is None:
            try:
                self.signature.bind(None, *args, **kwargs)
                error = ""
            except TypeError as e:
                error = "{}(): {}".format(self.name, e)
            if len(self._shapes) < 64:
                self._shapes[shape] = error
                if not error and not kwargs:
                    self._counts_ok.add(len(args))
        if error:
            raise TypeError(error)

    def _positional_names(self, count):
        named = self._positional
        return [named[i] if i < len(named) else "{}[{}]".format(self._star, i - len(named)) for i in range(count)]

    def _spec_of(self, argument):
        """(load, content type) asked for the data objects of an argument."""
        base = argument.split("[", 1)[0]
        if base in self.inputs:
            return self.inputs[base]
        return self.inputs.get(self._star_star, (False, ""))

    def _pickle(self, value, argument, objects, plans):
        """The argument pickled, each data object in it replaced by a placeholder: its index in
        ``objects`` (a new one is appended, with its InputPlan in ``plans``). The common cases
        go fast: a data object itself is its index; a plain value cannot hold one."""
        load, asked = self._spec_of(argument)
        known = len(objects)
        consumed = {}   # id(generator) -> (generator, its values): a retry must not run it again
        if isinstance(value, (DataObject, Task)):
            obj = data_object_of(value)
            for k, seen in enumerate(objects):
                if seen is obj:
                    return k
            obj.core_ref()   # a clear error now for an object that cannot be an input
            objects.append(obj)
            plans.append(InputPlan(argument, obj.label, obj.content_type, asked, load, None,
                                   _typed_at_run_time(obj)))
            return known
        if type(value) in _PLAIN and (type(value) not in (bytes, str) or len(value) <= PICKLE_ARG_SIZE_LIMIT):
            return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        for pickler_class in (_ArgumentPickler, _ArgumentCloudPickler):
            del objects[known:], plans[known:]   # a retry finds them again
            buffer = io.BytesIO()
            pickler = pickler_class(buffer, protocol=pickle.HIGHEST_PROTOCOL)
            pickler.found = objects
            pickler.consumed = consumed
            pickler.new = lambda obj: plans.append(InputPlan(argument, obj.label, obj.content_type, asked, load, None,
                                                             _typed_at_run_time(obj)))
            failed = None
            try:
                pickler.dump(value)
            except RainException:
                raise
            except _GeneratorRaised as raised:
                failed = raised.error
            except Exception as error:
                if pickler_class is _ArgumentCloudPickler:
                    raise RainException("argument {} of {} cannot be pickled: {}".format(argument, self.name, error)) from None
                continue
            if failed is not None:   # raised outside the except: the user's error, without ours as context
                raise failed
            data = buffer.getvalue()
            if pickler_class is _ArgumentPickler and any(name in data for name in by_value_modules()):
                continue   # refers to __main__ (or a by-value module): only cloudpickle carries it
            break
        if len(data) > PICKLE_ARG_SIZE_LIMIT:
            warnings.warn(RainWarning("argument {} of {} pickles to {} bytes (more than {}): it travels with the task; "
                                      "a blob() would travel once".format(argument, self.name, len(data),
                                                                          PICKLE_ARG_SIZE_LIMIT)), stacklevel=3)
        return data


_PLAIN = frozenset((bytes, str, int, float, bool, type(None)))


def _typed_at_run_time(obj):
    """True for the output of a @remote task: it may set its content type when it runs."""
    return isinstance(obj.task.maker, Remote)


def _all_plain(values):
    """True if every value is a number, None, or bytes or str small enough to travel with
    the task (none can hold a data object)."""
    for value in values:
        kind = type(value)
        if kind not in _PLAIN or (kind is bytes or kind is str) and len(value) > PICKLE_ARG_SIZE_LIMIT:
            return False
    return True


class _Placeholders:
    """A data object (or one-output task) in the arguments pickles as input n of the task:
    ``found[n]`` (``new(obj)`` is told of each object found first)."""

    def persistent_id(self, obj):
        if isinstance(obj, (DataObject, Task)):
            obj = data_object_of(obj)
            for k, seen in enumerate(self.found):
                if seen is obj:
                    return k
            obj.core_ref()   # a clear error now for an object that cannot be an input
            self.found.append(obj)
            self.new(obj)
            return len(self.found) - 1
        return None


    def reducer_override(self, obj):
        """A generator pickles as the values it yields (rain.common.generator_arguments)."""
        if type(obj) is types.GeneratorType:
            return generator_over, (self._values_of(obj),)
        parent = getattr(super(), "reducer_override", None)
        return NotImplemented if parent is None else parent(obj)

    def _values_of(self, generator):
        seen = self.consumed.get(id(generator))
        if seen is None:
            try:
                seen = self.consumed[id(generator)] = (generator, list(generator))
            except Exception as error:   # the user's generator failed: its own error, not a pickling one
                raise _GeneratorRaised(error) from None
        return seen[1]


class _GeneratorRaised(Exception):
    """A generator in the arguments raised ``error`` while it ran (Remote.__call__ raises that)."""

    def __init__(self, error):
        super().__init__(error)
        self.error = error


class _ArgumentPickler(_Placeholders, pickle.Pickler):
    pass


class _ArgumentCloudPickler(_Placeholders, cloudpickle.CloudPickler):
    pass


def remote(fn=None, *, outputs=None, inputs=None, auto_load=False, auto_encode=None, name=None, cpus=1):
    """``@remote()``, ``@remote`` or ``@remote(outputs=2, inputs={...}, auto_load=True, cpus=4)``:
    calling the function makes a task."""
    if fn is not None:
        return Remote(fn, outputs, inputs, auto_load, auto_encode, name, cpus)

    def decorate(f):
        return Remote(f, outputs, inputs, auto_load, auto_encode, name, cpus)
    return decorate
