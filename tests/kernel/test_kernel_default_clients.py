"""In the treadle kernel, Rain's Client() and HyperLoom's Client() with no address connect to the
kernel's own server (as TaskClient() and SCOOP do), not to their APIs' default ports."""

from conftest import text


def test_rain_and_hyperloom_clients_find_the_kernels_server(kernel):
    reply, outputs, _ = kernel.run(
        "import treadle\n"
        "from treadle.rain.client import Client as RainClient\n"
        "from treadle.loom.client import Client as LoomClient, tasks\n"
        "own = tuple(treadle.default_client().address)\n"
        "rc, lc = RainClient(), LoomClient()\n"
        "print(tuple(rc.address) == own, tuple(lc.address) == own)\n"
        "print(lc.submit_one(tasks.const('here')).gather())\n", timeout=60)
    assert reply["status"] == "ok", outputs
    assert text(outputs).split("\n")[-3:-1] == ["True True", "b'here'"], text(outputs)
