"""What a ``@remote`` task runs on the worker: rebuilds the function's arguments (each data
object, wherever it sat in them, becomes a DataInstance or its loaded value), calls the
function with a Context, encodes what it returned into its outputs, and records the task's
info (debug lines, ``ctx.info.user``, content types the task set) with the server.

The client (treadle.rain.client.remote) pickles the runner once per session, and per call the
arguments: as they are (plain values), or with placeholders (``persistent_id`` n stands for
input n of the task).
"""

import dis
import inspect
import io
import json
import pickle

from ...core.remote_exception import rebuilt_frame
from ...runtime.task_runtime import split_outputs
from ..common import (DataInstance, ObjectInfo, ObjectSpec, RainException, encode_value, is_subtype,
                      merge_content_types)
from .recorded import recorded_outputs
from .context import Context

_new = object.__new__


class OutputPlan:
    """What the client declared of one output: label, content type, encode."""

    __slots__ = ("label", "content_type", "encode")

    def __init__(self, label, content_type, encode):
        self.label = label
        self.content_type = content_type or ""
        self.encode = encode


class InputPlan:
    """One data object of the arguments: where it came from (``argument``), its label and
    content type as the client knew them, what the function asks of it (``Input``), and
    whether its producer may set its content type when it runs (``typed_at_run_time``: a
    @remote task's output; the runner then asks the server what the producer recorded)."""

    __slots__ = ("argument", "label", "content_type", "asked_type", "load", "user", "typed_at_run_time")

    def __init__(self, argument, label, content_type, asked_type, load, user, typed_at_run_time=False):
        self.argument = argument
        self.label = label
        self.content_type = content_type or ""
        self.asked_type = asked_type or ""
        self.load = load
        self.user = user
        self.typed_at_run_time = typed_at_run_time

    def __reduce__(self):   # one travels per input of every task: the short way
        return (InputPlan, (self.argument, self.label, self.content_type, self.asked_type, self.load, self.user,
                            self.typed_at_run_time))


class Call:
    """A call's long form, as its task's one direct argument (the inputs follow it): ``spec``
    (None: the client never asked for it, the default; or its ``user`` and ``resources``),
    ``args``, ``kwargs`` and ``plans``. Without plans, ``args`` and ``kwargs`` are the values
    themselves (none held a data object); with them, each argument is pickled with
    placeholders (or is the index of an input), and ``plans`` has an InputPlan per input."""

    __slots__ = ("spec", "args", "kwargs", "plans")

    def __init__(self, spec, args, kwargs, plans):
        self.spec = spec
        self.args = args
        self.kwargs = kwargs
        self.plans = plans

    def __reduce__(self):
        return (Call, (self.spec, self.args, self.kwargs, self.plans))


class RemoteRunner:
    """What a ``@remote`` task calls: the executor calls ``call_with_context`` for a py_call
    whose config's context is 2 (the runner makes the task's context itself: one object a
    task, Rain's Context being treadle's too). A plain call (values that cannot hold a data
    object, no keywords, no spec asked for: most calls) sends its arguments as the task's
    direct arguments; any other call sends one Call (then the task's inputs). The client
    pickles a runner per session (``for_session``): ``session_id`` is its spec's."""

    def __init__(self, fn, outputs, name, cpus=1, session_id=0):
        self.fn = fn
        self.outputs = outputs   # OutputPlans
        self.name = name
        self.cpus = cpus
        self.session_id = session_id
        self.bytes_as_is = len(outputs) == 1 and not outputs[0].encode   # returned bytes are the output

    def for_session(self, session_id):
        """The runner the tasks of session ``session_id`` call."""
        return RemoteRunner(self.fn, self.outputs, self.name, self.cpus, session_id)

    def __call__(self, core_ctx, *args):
        """As a py_call with treadle's context (``core_ctx``), the direct arguments and inputs after it."""
        if args and type(args[0]) is Call:
            args, inputs = args[:1], args[1:]
        else:
            inputs = ()
        return self.call_with_context(core_ctx.task_id, core_ctx._log, core_ctx._record, core_ctx.governor,
                                      core_ctx.input_ids, args, inputs)

    def call_with_context(self, task_id, log, record, governor, input_ids, args, inputs):
        """Runs the task: the arguments of a core Context (the executor's), the config's direct
        arguments and the task's data inputs (after the function's)."""
        # Context(task_id, log, record, governor, input_ids), without its __init__'s call: a
        # tiny task pays for each (bench 9a). Keep the fields the same as those two __init__s set.
        ctx = _new(Context)
        ctx.task_id = task_id
        ctx._log = log
        ctx._record = record
        ctx.governor = governor
        ctx.input_ids = input_ids
        ctx.runner = self
        ctx.spec_given = None
        ctx._debug = None
        ctx._spec = None
        ctx._info = None
        try:
            if args and type(args[0]) is Call:
                result = self._call(ctx, args[0], inputs)
            else:
                result = self.fn(ctx, *args)
            if type(result) is bytes and self.bytes_as_is and ctx._debug is None and ctx._info is None:
                return result   # the common case, short
            try:
                outputs, objects = self._encode_all(result)
            except Exception as error:
                # What the function returned cannot become its outputs: the failure shows the
                # function's frame (where it returned), not treadle's encoding in this runner.
                raise error.with_traceback(self._returned_at()) from None
        except BaseException as error:
            if ctx._debug:
                # In the failure's text (the traceback shows notes) as Rain's "Debug:" part.
                if hasattr(error, "add_note"):
                    error.add_note("\nDebug:\n" + "\n".join(ctx._debug))
                _record(ctx, [])
            raise
        if objects or ctx._debug or ctx._info is not None:
            _record(ctx, objects)
        return outputs[0] if len(self.outputs) == 1 else outputs

    def _call(self, ctx, call, inputs):
        """Calls the function the long way: keywords, a spec, data objects in the arguments."""
        ctx.spec_given = call.spec
        args, kwargs, plans = call.args, call.kwargs, call.plans
        if plans is None:
            return self.fn(ctx, *args, **kwargs) if kwargs else self.fn(ctx, *args)
        made = recorded_outputs(ctx, plans)
        values = [self._value(wrapper, plan, made[k]) for k, (wrapper, plan) in enumerate(zip(inputs, plans))]
        args = [_argument(data, values) for data in args]
        kwargs = {name: _argument(data, values) for name, data in kwargs.items()}
        return self.fn(ctx, *args, **kwargs)

    def _value(self, wrapper, plan, made):
        """The DataInstance of an input (its loaded value if the function asked). ``made``:
        what its producer recorded of it when it ran (its content type, user info), or None.
        As in Rain, the content type is the info's when the producer set one, else the spec's."""
        made = made or {}
        current = made.get("content_type") or plan.content_type
        try:
            content_type = merge_content_types(current, plan.asked_type)
        except RainException:
            raise RainException("argument {} of {}: the data object {!r} has content type {!r}, but the function "
                                "asks for {!r}".format(plan.argument, self.name, plan.label, current,
                                                       plan.asked_type)) from None
        data = wrapper.read()
        spec = ObjectSpec(label=plan.label, content_type=plan.content_type, user=dict(plan.user or {}))
        info = ObjectInfo(size=len(data), content_type=current, user=made.get("user") or {})
        instance = DataInstance(data, content_type, spec=spec, info=info)
        return instance.load() if plan.load else instance

    def _encode_all(self, result):
        """The bytes of each output, and per output its info (None when no output had any:
        the task set nothing)."""
        outputs = self.outputs
        if len(outputs) == 1:
            plan = outputs[0]
            if type(result) is bytes and not plan.encode:   # the common case, short
                return [result], None
            data, info = self._encode(result, plan)
            return [data], [info] if info else None
        if not outputs:
            if result is not None and result != ():
                raise RainException("{} declares no outputs but returned a {}".format(self.name, type(result).__name__))
            return [], None
        encoded = [self._encode(value, plan) for value, plan in zip(split_outputs(result, [o.label for o in outputs]),
                                                                     outputs)]
        infos = [info for _, info in encoded]
        return [data for data, _ in encoded], infos if any(infos) else None

    def _encode(self, value, plan):
        declared = plan.content_type
        if isinstance(value, DataInstance):
            made = value.content_type
            if not is_subtype(made, declared):
                raise RainException("output {!r} of {}: the task made content type {!r}, which is not a sub-type of "
                                    "the declared {!r}".format(plan.label, self.name, made, declared))
            info = {}
            if made and made != declared:
                info["content_type"] = made
            if value.info.user:
                info["user"] = value.info.user
            return value.get_bytes(), info
        if plan.encode:
            return self._encoded(value, plan.encode, plan), {}
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value), {}
        if isinstance(value, str):
            if declared.startswith("text-"):
                return self._encoded(value, declared, plan), {}
            return value.encode(), ({} if declared else {"content_type": "text"})
        if not declared:
            raise RainException("output {!r} of {} got a {}: return bytes, str or a DataInstance, or declare the "
                                "output with encode=...".format(plan.label, self.name, type(value).__name__))
        return self._encoded(value, declared, plan), {}

    def _encoded(self, value, content_type, plan):
        """The bytes of an output's value; a value its content type cannot encode fails the task
        saying which output, of which task, and why (not with the encoder's own frames)."""
        try:
            return encode_value(value, content_type)
        except Exception as error:
            why = str(error) if isinstance(error, RainException) else "{}: {}".format(type(error).__name__, error)
            raise RainException("output {!r} of {}: the {} it returned cannot be encoded as content type {!r}: {}".format(
                plan.label, self.name, type(value).__name__, content_type, why)) from None

    def _returned_at(self):
        """A traceback entry at the line where the task's function returned (its only return
        statement; else its def line), or None."""
        fn = inspect.unwrap(self.fn)
        code = getattr(fn, "__code__", None)
        if code is None:
            return None
        try:
            returns = {i.positions.lineno for i in dis.get_instructions(code)
                       if i.opname in ("RETURN_VALUE", "RETURN_CONST") and i.positions and i.positions.lineno}
        except Exception:
            returns = set()
        line = returns.pop() if len(returns) == 1 else code.co_firstlineno
        return rebuilt_frame(code.co_filename, line, code.co_name, getattr(fn, "__module__", None) or "")


class _ArgumentUnpickler(pickle.Unpickler):
    """Placeholder n becomes the value of input n."""

    def __init__(self, data, values):
        super().__init__(io.BytesIO(data))
        self.values = values

    def persistent_load(self, pid):
        return self.values[pid]


def _argument(data, values):
    """An argument: the value of input n (an int: the argument was a data object itself), or
    its pickle with placeholders."""
    if type(data) is int:
        return values[data]
    return _ArgumentUnpickler(data, values).load()


def _record(ctx, objects):
    """Sends the task's info to the server when it has any (most tasks have none: no cost)."""
    info = {}
    if ctx._debug:
        info["debug"] = "\n".join(ctx._debug)
    if ctx._info is not None and ctx._info.user:
        info["user"] = ctx.info.user
    if objects and any(objects):
        info["objects"] = objects
    if not info:
        return
    try:
        text = json.dumps(info)
    except (TypeError, ValueError) as error:
        raise RainException("ctx.info.user (and DataInstance info.user) must be JSON-serializable: {}".format(error))
    ctx.record_info(text)
