"""A @remote task whose returned value its output cannot encode fails with a message that names
the task, the output and the encoding problem, and a traceback of the task's own frame (where
it returned): not the frames of treadle's runner or of the encoder it called."""

import os
import re
import traceback

import pytest

import treadle
from treadle.core.remote_exception import task_traceback
from treadle.rain.client import Client, Output, TaskException, remote


@remote(outputs=[Output(encode="json")])
def make_set(ctx):
    return {1, 2, 3}


@remote(outputs=[Output(content_type="text")])
def make_number(ctx):
    return 42


@remote()
def make_object(ctx):
    return object()


TREADLE_DIR = os.path.dirname(os.path.abspath(treadle.__file__)) + os.sep


@pytest.fixture(scope="module")
def rain(tmp_path_factory):
    with treadle.local_cluster(workers=1, cpus=1,
                               worker_args=["--workdir", str(tmp_path_factory.mktemp("workers"))]) as cluster:
        client = Client(*cluster.address)
        yield client
        client.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fn, returned, problem", [
    (make_set, "return {1, 2, 3}",
     "output 'output' of make_set: the set it returned cannot be encoded as content type 'json': "
     "TypeError: Object of type set is not JSON serializable"),
    (make_number, "return 42",
     "output 'output' of make_number: the int it returned cannot be encoded as content type 'text'"),
    (make_object, "return object()",
     "output 'output' of make_object got a object: return bytes, str or a DataInstance"),
], ids=["json", "text", "undeclared"])
def test_an_output_that_cannot_be_encoded_names_the_task_and_shows_its_frame(rain, fn, returned, problem):
    with rain.new_session() as session:
        task = fn()
        task.output.keep()
        session.submit()
        with pytest.raises(TaskException) as raised:
            task.output.fetch()
    text = str(raised.value)
    assert text.startswith("Task {!r} failed".format(task)), text
    assert problem in text, text
    # The task's own frame, at its return; none of treadle's (the runner, content types) nor
    # the encoder's (json).
    assert 'File "{}", line'.format(__file__) in text and ", in {}\n    {}\n".format(fn.name, returned) in text, text
    assert re.findall(r'File "([^"]+)"', text) == [__file__], text
    # The rebuilt exception's frames are the task's too.
    frames = traceback.extract_tb(task_traceback(raised.value.cause))
    assert [(f.name, f.line) for f in frames] == [(fn.name, returned)], frames
    assert not any(f.filename.startswith(TREADLE_DIR) for f in frames), frames
