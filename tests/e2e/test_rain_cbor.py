"""Rain's "cbor" content type (python3-cbor2 from apt): a blob encoded by the client, an output
encoded by a task and read by another, both loaded back; without the module, a clear error
naming it."""

import subprocess
import sys

from treadle.rain.client import Client, Input, Output, blob, remote


@remote(outputs=[Output("doubled", encode="cbor")])
def doubled(ctx, values: Input(load=True)):
    return {k: v * 2 for k, v in values.items()}


@remote()
def described(ctx, values: Input(load=True)):
    return "{} keys, total {}".format(len(values), sum(values.values()))


def test_cbor_objects_go_through_tasks_on_two_workers(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    try:
        with client.new_session() as session:
            data = blob({"a": 1, "b": 2.5}, encode="cbor")
            assert data.content_type == "cbor"
            twice = doubled(data)
            text = described(twice)
            twice.output.keep()
            text.output.keep()
            data.keep()
            session.submit()
            assert data.fetch().load() == {"a": 1, "b": 2.5}
            fetched = twice.output.fetch()
            assert fetched.content_type == "cbor" and fetched.load() == {"a": 2, "b": 5.0}
            assert text.output.fetch().get_bytes() == b"2 keys, total 7.0"
    finally:
        client.close()


def test_without_the_module_the_error_names_it():
    code = ("import sys; sys.modules['cbor2'] = None\n"
            "from treadle.rain.client import blob, Client\n"
            "try:\n"
            "    blob([1], encode='cbor')\n"
            "except Exception as e:\n"
            "    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "cbor2" in out, out
