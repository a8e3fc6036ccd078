"""Rain's Execute and Program: an external program run in a fresh sandbox directory on a
worker, by treadle's C++ `loom/run/run` task (no Python on the way). Data objects are mapped to
files or directories (read-only unless ``write=True``), the program's files, directories and
standard output become the task's outputs, one data object each."""

import json
import posixpath
import shlex

from ...core.task import ResourceRequest, Task as CoreTask
from ..common import RainException, is_subtype
from .data_object import DataObject
from .input import Input, InputDir
from .output import Output
from .task import Task, data_object_of, input_ref

RUN = "loom/run/run"
STDIN = "+in"      # the names loom/run/run gives the standard streams
STDOUT = "+out"


class Execute(Task):
    """``Execute(args, stdout=, stdin=, input_paths=, output_paths=, shell=, cpus=, name=)``.

    ``args``: a list, or a string split as a shell would (kept whole with ``shell=True``, which
    runs it with /bin/sh -c). Items of the list may be data objects (mapped to fresh file
    names), ``Input``s (mapped to their path) and ``Output``s (their path; an output too).
    ``stdout``: True (label "stdout"), a label or an ``Output``; ``stdin``: a data object.
    ``input_paths``: ``Input``/``InputDir`` with their data objects; ``output_paths``: names,
    ``Output``/``OutputDir`` with a label and a path (the label when not given)."""

    def __init__(self, args, stdout=None, stdin=None, input_paths=(), output_paths=(), shell=False, cpus=1,
                 name=None, session=None):
        mapping = _Mapping()
        if stdout is not None and stdout is not False:
            mapping.add_stdout(stdout)
        if stdin is not None:
            mapping.add_input(_input_of(stdin, "stdin", "blob"), STDIN)
        for item in _sequence(input_paths, "input_paths"):
            mapping.add_input(_input_of(item, None))
        for item in _sequence(output_paths, "output_paths"):
            mapping.add_output(_output_of(item))
        command = mapping.add_arguments(args, shell)
        if not command or not command[0]:
            raise ValueError("Execute: args must name a program to run, not {!r}".format(args))
        config = {"args": command, "inputs": mapping.input_entries, "outputs": mapping.output_entries}
        core = CoreTask(RUN, tuple(input_ref(obj) for obj in mapping.objects),
                        json.dumps(config, separators=(",", ":")).encode(), name or _program_name(command),
                        ResourceRequest(cpus))
        self.command = command
        super().__init__(core, mapping.outputs, session)

    def __repr__(self):
        return "<Execute {}>".format(" ".join(self.command)[:60])


class Program:
    """A reusable Execute: the same arguments as Execute, with ``Input("label")`` (no data
    object) wherever a data object goes; calling it with ``label=object`` makes the task."""

    def __init__(self, args, stdout=None, stdin=None, input_paths=(), output_paths=(), shell=False, cpus=1,
                 name=None):
        if isinstance(args, str):
            args = args if shell else shlex.split(args)
        else:
            args = [_program_argument(a, i) for i, a in enumerate(_sequence(args, "args"))]
        self.args = args
        self.stdout = True if stdout is True else stdout
        self.stdin = None if stdin is None else _slot(Input(stdin) if isinstance(stdin, str) else stdin, "stdin")
        self.input_paths = [_slot(Input(i) if isinstance(i, str) else i, None) for i in _sequence(input_paths,
                                                                                                "input_paths")]
        self.output_paths = list(_sequence(output_paths, "output_paths"))
        self.shell = shell
        self.cpus = cpus
        self.name = name
        self._check_slots()

    def input_labels(self):
        return sorted({s.label for s in self._slots()})

    def __call__(self, **objects):
        labels = self.input_labels()
        missing = [label for label in labels if label not in objects]
        if missing:
            raise RainException("{!r} needs input{} {} (its inputs: {})".format(
                self, "s" if len(missing) > 1 else "", ", ".join(map(repr, missing)), ", ".join(labels) or "none"))
        extra = sorted(set(objects) - set(labels))
        if extra:
            raise RainException("{!r} has no input{} {} (its inputs: {})".format(
                self, "s" if len(extra) > 1 else "", ", ".join(map(repr, extra)), ", ".join(labels) or "none"))
        for label, value in objects.items():
            if isinstance(value, (Input, Output, Program)):
                raise RainException("{!r}: input {!r} maps to {!r}, not to a data object: a Program's inputs "
                                    "are filled with data objects (a mapping cannot point back at a slot)".format(
                                        self, label, value))

        def fill(slot):
            if not isinstance(slot, Input):
                return slot
            return type(slot)(slot.label, slot.path, objects[slot.label], content_type=slot.content_type,
                              write=slot.write)

        return Execute([fill(a) for a in self.args] if not isinstance(self.args, str) else self.args,
                       stdout=self.stdout, stdin=None if self.stdin is None else fill(self.stdin),
                       input_paths=[fill(s) for s in self.input_paths], output_paths=self.output_paths,
                       shell=self.shell, cpus=self.cpus, name=self.name)

    def _slots(self):
        args = [] if isinstance(self.args, str) else [a for a in self.args if isinstance(a, Input)]
        return args + ([self.stdin] if self.stdin is not None else []) + self.input_paths

    def _check_slots(self):
        kinds = {}
        for slot in self._slots():
            if kinds.setdefault(slot.label, slot.data_type) != slot.data_type:
                raise RainException("{!r}: input {!r} is declared both as a blob and as a directory".format(
                    self, slot.label))

    def __repr__(self):
        shown = self.args if isinstance(self.args, str) else " ".join(
            a if isinstance(a, str) else "<{}>".format(a.label) for a in self.args)
        return "<Program {}>".format(shown[:60])


# -- how Execute's arguments become the config of loom/run/run ---------------------------------

class _Mapping:
    """The task's inputs (data objects and where they go) and outputs, as they are added."""

    def __init__(self):
        self.objects = []
        self.input_entries = []
        self.outputs = []
        self.output_entries = []
        self.paths = set()

    def add_input(self, inp, path=None):
        if inp.load is not None:
            raise RainException("{!r}: Execute maps files, it does not load them (load= is for Python tasks)".format(inp))
        path = path or _checked_path(inp.path if inp.path is not None else inp.label, "input")
        self._claim(path, "input")
        obj = inp.dataobj
        if inp.content_type and not is_subtype(obj.content_type, inp.content_type) and obj.content_type:
            raise RainException("input {!r} needs content type {!r} but {!r} has {!r}".format(
                inp.label, inp.content_type, obj, obj.content_type))
        self.objects.append(obj)
        if path == STDIN:
            self.input_entries.append(STDIN)
        else:
            self.input_entries.append({"path": path, "dir": obj.data_type == "dir", "write": inp.write})
        return path

    def add_output(self, out, path=None):
        if getattr(out, "encode", None) is not None:
            raise RainException("{!r}: a program writes its outputs' bytes itself (encode= is for Python tasks)"
                                .format(out))
        path = path or _checked_path(out.path if out.path is not None else out.label, "output")
        self._claim(path, "output")
        self.outputs.append(out)
        self.output_entries.append(STDOUT if path == STDOUT else {"path": path, "dir": out.data_type == "dir"})
        return path

    def add_stdout(self, stdout):
        if stdout is True:
            stdout = "stdout"
        if isinstance(stdout, str):
            stdout = Output(stdout)
        if not isinstance(stdout, Output):
            raise RainException("stdout is True, a label or an Output, not {!r}".format(stdout))
        if stdout.data_type == "dir":
            raise RainException("stdout cannot be a directory (OutputDir)")
        if stdout.path is not None:
            raise RainException("the stdout Output takes no path (it is the program's standard output)")
        self.add_output(Output(stdout.label or "stdout", content_type=stdout.content_type), STDOUT)

    def add_arguments(self, args, shell):
        if isinstance(args, str):
            # A shell gets the string as written (quotes and all); else it is split as a shell would.
            return ["/bin/sh", "-c", args] if shell else shlex.split(args)
        command = []
        for i, arg in enumerate(_sequence(args, "args")):
            if isinstance(arg, str):
                command.append(arg)
            elif isinstance(arg, Output):
                out = arg if arg.label is not None else _relabelled(arg, "arg{}".format(i))
                command.append(self.add_output(out))
            elif isinstance(arg, (Input, DataObject, Task)):
                inp = _input_of(arg, "arg{}".format(i))
                if not isinstance(arg, Input) or arg.path is None and arg.label is None:
                    inp.path = "arg{}".format(i)  # a fresh name for a data object given as it is
                command.append(self.add_input(inp))
            else:
                raise RainException("argument {} of Execute is {!r}: give str, a data object, an Input or an "
                                    "Output".format(i, arg))
        if not command:
            raise RainException("Execute needs a program to run (args is empty)")
        return ["/bin/sh", "-c", " ".join(command)] if shell else command

    def _claim(self, path, what):
        if path in self.paths:
            raise RainException("{} path {!r} is used twice in one Execute".format(what, path))
        self.paths.add(path)


def _input_of(value, label, data_type=None):
    """An Input with its data object, from an Input, a DataObject or a one-output Task."""
    if data_type is not None and isinstance(value, Input) and value.data_type != data_type:
        raise RainException("Execute's {} needs a blob, not {!r}".format(label, value))
    if isinstance(value, Input):
        if value.dataobj is None:
            raise RainException("{!r} has no data object: Execute needs dataobj=... (a Program fills it)".format(value))
        if value.label is None:
            value = _relabelled(value, label)
        return value
    obj = data_object_of(value, data_type, "Execute's {}".format(label or "input"))
    cls = InputDir if obj.data_type == "dir" else Input
    return cls(label or obj.label, None, obj)


def _output_of(value):
    if isinstance(value, str):
        return Output(value, path=value)
    if not isinstance(value, Output):
        raise RainException("output_paths holds names, Output and OutputDir, not {!r}".format(value))
    if value.label is None and value.path is None:
        raise RainException("{!r} needs a label or a path".format(value))
    return value if value.label is not None else _relabelled(value, value.path)


def _relabelled(obj, label):
    copy = object.__new__(type(obj))
    copy.__dict__.update(obj.__dict__)
    copy.label = label
    return copy


def _checked_path(path, what):
    """A relative path inside the sandbox; the worker checks again."""
    if not isinstance(path, str) or not path:
        raise RainException("an {} needs a path or a label, got {!r}".format(what, path))
    if posixpath.isabs(path) or ".." in path.split("/") or path in (STDIN, STDOUT) or path.endswith("/"):
        raise RainException("{} path {!r} must be a relative path inside the program's directory (no '..', "
                            "not absolute)".format(what, path))
    return posixpath.normpath(path)


def _slot(value, label):
    """A Program's input slot: an Input without a data object, labelled."""
    if not isinstance(value, Input):
        return value
    if value.dataobj is not None:
        raise RainException("{!r} has a data object: a Program's Inputs name slots, filled when it is called"
                            .format(value))
    return value if value.label is not None else _relabelled(value, label)


def _program_argument(value, i):
    if isinstance(value, Input):
        return _slot(value, "arg{}".format(i))
    if isinstance(value, (str, Output)):
        return value
    if isinstance(value, (DataObject, Task)):
        raise RainException("a Program takes Input('label') where a data object goes, not {!r}".format(value))
    raise RainException("a Program's argument is str, Input or Output, not {!r}".format(value))


def _sequence(value, what):
    """A list of ``value``'s items; a single Input, Output or name stands for a list of one."""
    if what != "args" and isinstance(value, (Input, Output, str)):
        return [value]
    if isinstance(value, (str, bytes, DataObject, Task)) or not hasattr(value, "__iter__"):
        raise RainException("{} is a list, not {!r}".format(what, value))
    return list(value)


def _program_name(command):
    if command[:2] == ["/bin/sh", "-c"] and len(command) > 2:
        words = command[2].split()
        return posixpath.basename(words[0]) if words else "sh"
    return posixpath.basename(command[0])
