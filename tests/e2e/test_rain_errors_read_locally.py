"""Rain errors that read like the user's own code (tryout8 F9): a @remote task whose
``data.load()`` fails shows the user's line, not the frames of treadle's DataInstance and
content types under it; a kept object of a closed session used as an input is refused naming
the object and its closed session, not the core's released TaskHandle."""

import os

import pytest

from treadle.rain.client import Client, SessionException, TaskException, blob, remote, tasks

TREADLE_DIR = os.path.dirname(os.path.abspath(__import__("treadle").__file__))


@pytest.fixture(scope="module")
def client(cluster):
    client = Client(*cluster.address)
    yield client
    client.close()


@remote()
def load_untyped(ctx, data):
    return repr(data.load())   # the guide: "Throws an error if content type is not provided"


@pytest.mark.timeout(60)
def test_a_failing_load_in_a_task_shows_the_users_line_only(client):
    with client.new_session() as session:
        task = load_untyped(blob(b"raw"))
        session.submit()
        with pytest.raises(TaskException) as raised:
            task.wait()
    message = str(raised.value)
    assert "cannot be loaded: use get_bytes()" in message, message
    assert "in load_untyped" in message and "return repr(data.load())" in message, message
    assert TREADLE_DIR not in message, message   # neither data_instance.py nor content_types.py


@pytest.mark.timeout(60)
def test_an_object_of_a_closed_session_is_refused_naming_it(client):
    with client.new_session() as first:
        kept = blob("a")
        kept.keep()
        first.submit()
        first.wait_all()
    with client.new_session() as second:
        with pytest.raises(SessionException) as raised:
            tasks.Concat([kept, blob("b")])
        message = str(raised.value)
        assert message.startswith(repr(kept)) and "session {}, which is closed".format(first.session_id) in message
        assert "TaskHandle" not in message, message
        again = tasks.Concat([blob("a"), blob("b")])   # the session is unharmed
        again.output.keep()
        second.submit()
        assert again.output.fetch().get_bytes() == b"ab"
