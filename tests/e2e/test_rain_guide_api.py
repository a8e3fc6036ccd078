"""The examples of Rain's user's guide for sessions, constants, @remote, spec/info and waiting,
each as the guide writes it with only the import changed (``rain.client`` becomes
``treadle.rain.client``) and the server's address given by the test's cluster. Where the
guide's code has a typo (a missing parenthesis, ``;`` for ``:``, a missing ``return``), the
test says so next to the fix."""

import pytest

from treadle.rain.client import Client, Input, Output, TaskException, blob, pickled, remote, tasks


@pytest.fixture(scope="module")
def address(cluster):
    return cluster.address


@pytest.mark.timeout(60)
def test_sessions_in_interactive_mode(address):
    client = Client(*address)
    session = client.new_session(default=True)  # Create a DEFAULT SESSION
    a = blob("Hello ")
    b = blob("world!")
    tasks.Concat([a, b])
    session.submit()
    session.wait_all()
    session.close()
    client.close()


@pytest.mark.timeout(60)
def test_constant_data_objects(address):
    client = Client(*address)
    with client.new_session() as session:
        objects = [
            blob(b"Raw data"),  # Creates a data object with a defined content
            blob(b"Raw data", label="input data"),  # Data with a non-default label
            blob("String data"),  # Creates a data object from a string, the content type is set to 'text'
            blob("[1, 2, 3, 4]", content_type="json"),  # Data with a specified content type
            blob([1, 2, 3, 4], encode="json"),  # Serialize python object to JSON and set content type to "json"
            blob([1, 2, 3, 4], encode="pickle"),  # Serialize python object by pickle content type to "pickle"
            pickled([1, 2, 3, 4]),  # Short-cut for blob(..., encode="pickle")
        ]
        for o in objects:
            o.keep()
        session.submit()
        got = [o.fetch() for o in objects]
    assert [o.label for o in objects[:3]] == ["const", "input data", "const"]
    assert [g.content_type for g in got] == ["", "", "text", "json", "json", "pickle", "pickle"]
    assert [g.load() for g in got[3:]] == [[1, 2, 3, 4]] * 4
    client.close()


@pytest.mark.timeout(60)
def test_remote_hello(address, capsys):
    @remote()
    def hello(ctx):
        return "Hello world!"

    client = Client(*address)
    with client.new_session() as session:
        t = hello()  # Create a task
        t.output.keep()
        session.submit()
        result = t.output.fetch()
        print(result)  # Prints b'Hello world!'
    assert result.get_bytes() == b"Hello world!" and result.content_type == "text"
    client.close()


@pytest.mark.timeout(60)
def test_remote_inputs(address):
    @remote()
    def hello(ctx, data1, data2):
        return data1 + data2.get_bytes()

    client = Client(*address)
    with client.new_session() as s:
        # Create data object
        data = blob("Rain!")
        # Creates a task calling function 'hello' in governor
        t = hello(b"Hello ", data)
        t.output.keep()
        s.submit()
        s.wait_all()
        # Prints b'Hello Rain!"
        assert t.output.fetch().get_bytes() == b"Hello Rain!"
    client.close()


class MyClass:
    def __init__(self, my_data):
        self.my_data = my_data


@pytest.mark.timeout(60)
def test_remote_data_objects_inside_own_classes(address):
    @remote()
    def my_call(ctx, input):  # noqa: A002 - the guide's name
        # If we assume a call of this function as below,
        # we obtain an instance of MyClass where attribute 'my_data'
        # is list of instances of DataInstance
        assert [d.get_bytes() for d in input.my_data] == [b"data1", b"data2", b"data3"]
        return b""

    client = Client(*address)
    with client.new_session() as session:
        my_instance = MyClass([blob(b"data1"), blob(b"data2"), blob(b"data3")])
        task = my_call(my_instance)
        session.submit()
        session.wait_all()
    assert len(task.spec.inputs) == 3
    client.close()


@pytest.mark.timeout(60)
def test_remote_load(address):
    @remote()
    def fn1(ctx, data):
        # Load according content type. Throws an error if content type is not provided
        loaded_data = data.load()
        return str(loaded_data)

    # Automatically call load() on specific argument
    @remote(inputs={"data": Input(load=True)})
    def fn2(ctx, data):
        return str(data)

    # Automatically call load() on all arguments
    @remote(auto_load=True)
    def fn3(ctx, data):
        return str(data)

    client = Client(*address)
    with client.new_session() as session:
        # Example of calling:
        data = blob([1, 2, 3, 4], encode="json")
        calls = [fn1(data), fn2(data), fn3(data)]
        for t in calls:
            t.output.keep()
        session.submit()
        assert [t.output.fetch().get_bytes() for t in calls] == [b"[1, 2, 3, 4]"] * 3
    client.close()


@pytest.mark.timeout(60)
def test_remote_input_content_type(address):
    # The following function asks for a dataobject with content type "json" as its argument.
    @remote(inputs={"data": Input(content_type="json")})
    def fn1(ctx, data):
        pass

    # The guide's fn1 returns None for its one output, an error (as in Rain): the input check
    # comes first, so the error says which case the input was.
    client = Client(*address)
    cases = [(("[1]", "json"), "output 'output' of fn1 got a NoneType"),  # 1) passed as it is
             ((b"[1]", None), "output 'output' of fn1 got a NoneType"),   # 2) "json" is set
             (("text", None), "has content type 'text', but the function asks for 'json'")]  # 3) fails
    for (value, content_type), error in cases:
        with client.new_session() as session:
            fn1(blob(value, content_type=content_type))
            session.submit()
            with pytest.raises(TaskException, match=error):
                session.wait_all()
    client.close()


@pytest.mark.timeout(60)
def test_remote_outputs(address):
    @remote()
    def fn1(ctx):
        return b"Returning bytes"

    @remote()
    def fn2(ctx):
        return "Returning string"

    # Configuring more unlabaled outputs
    @remote(outputs=3)
    def fn3(ctx):
        (b"data1", b"data2", b"data3")  # the guide forgets `return`: the task fails, saying so

    # No output
    @remote(outputs=0)
    def fn4(ctx):
        pass

    # Configuring labeled outputs
    @remote(outputs=("label1", "label2"))
    def fn5(ctx):
        return {"label1": b"data1", "label2": b"data2"}

    # Set content types of resulting objects (the guide misses the closing parenthesis)
    @remote(outputs=(Output(content_type="json"), Output(content_type="json")))
    def fn6(ctx):
        return ("[1, 2, 3]", "{'x': 123}")

    # Automatically encode resulting objects (the guide misses the closing parenthesis)
    @remote(outputs=(Output(encode="pickle"), Output(encode="json")))
    def fn7(ctx):
        return ([1, 2, 3], {"x": 123})

    client = Client(*address)
    with client.new_session() as session:
        made = [fn1(), fn2(), fn4(), fn5(), fn6(), fn7()]
        for t in made:
            t.keep_outputs()
        session.submit()
        got = [[(d.content_type, d.get_bytes()) for d in t.fetch_outputs()] for t in made]
        assert made[3].outputs["label2"].fetch().get_bytes() == b"data2"
    assert got == [[("", b"Returning bytes")], [("text", b"Returning string")], [],
                   [("", b"data1"), ("", b"data2")], [("json", b"[1, 2, 3]"), ("json", b"{'x': 123}")],
                   [("pickle", got[5][0][1]), ("json", b'{"x": 123}')]]
    with client.new_session() as session:
        fn3()
        session.submit()
        with pytest.raises(TaskException, match="declared 3 outputs .* but returned one NoneType"):
            session.wait_all()
    client.close()


@pytest.mark.timeout(60)
def test_debug_stream(address):
    @remote()
    def remote_fn(ctx):
        a = 11
        b = a + 10
        ctx.debug("Variable a = {}", a)
        ctx.debug("Variable b = {}", b)
        raise Exception("Error occured!")

    client = Client(*address)
    with client.new_session() as session:
        remote_fn()
        session.submit()
        with pytest.raises(TaskException) as caught:
            session.wait_all()
    # When this task is executed, you get the following error message:
    # Exception: Error occured!
    #
    # Debug:
    # Variable a = 11
    # Variable b = 21
    assert "Exception: Error occured!\n\nDebug:\nVariable a = 11\nVariable b = 21" in str(caught.value)
    client.close()


@pytest.mark.timeout(60)
def test_type_hints(address):
    @remote
    def test1(ctx, a: Input(content_type="json")) -> Output(encode='pickle', label='test_pickle'):  # the guide: ';'
        pass

    client = Client(*address)
    with client.new_session() as session:
        t = test1(blob("[1]", content_type="json"))
        t.output.keep()
        session.submit()
        assert t.output.label == "test_pickle"
        assert t.output.fetch().load() is None
    client.close()


@pytest.mark.timeout(60)
def test_resources(address):
    client = Client(*address)
    with client.new_session():
        # Resere 4 CPUs for a Python task
        @remote(cpus=4)
        def myfunction(ctx):
            pass
        t = myfunction()
        assert t.spec.resources == {"cpus": 4}   # not submitted: the test's workers have 2 cpus
    client.close()


@pytest.mark.timeout(60)
def test_attributes_spec_and_info(address):
    @remote()
    def attr_demo(ctx):
        # read user defined attributes
        foo = ctx.spec.user["foo"]
        # setup new "user_info" attribute
        ctx.info.user["bar"] = [1, 2, foo]
        # Write some debug log
        ctx.debug("Running at governor", ctx.info.governor)
        return b"Result"

    client = Client(*address)
    with client.new_session() as session:
        task = attr_demo()
        task.spec.user["foo"] = 42
        session.submit()
        session.wait_all()
        task.update()
        # prints: [1, 2, 42]
        print(task.info.user["bar"])
        # prints the debug log
        print(task.info.debug)
    assert task.info.user["bar"] == [1, 2, 42] and task.info.debug == "Running at governor"
    client.close()


@pytest.mark.timeout(60)
def test_waiting_for_objects_and_tasks(address):
    client = Client(*address)
    with client.new_session() as session:
        a = blob("Hello world")
        t1 = tasks.Sleep(a, 1.0)
        t2 = tasks.Sleep(a, 2.0)
        session.submit()
        t1.wait()  # This blocks until t1 is finished, independently of t2
        t2.output.wait()  # Waits until a data object is not finished
        # The same as two lines above, but since we are doing it at once, it is
        # slightly more efficient
        session.wait([t1, t2.output])
    client.close()


@pytest.mark.timeout(60)
def test_active_session(address):
    from treadle.rain.client.active import active_session
    client = Client(*address)
    # no session is active
    with client.new_session() as a:
        assert active_session() is a  # 'a' is active
        with client.new_session() as b:
            assert active_session() is b  # 'b' is active
            pass
        # 'b' is closed and 'a' is active again
        assert b.closed and active_session() is a
    # 'a' is closed and no session is active
    assert a.closed
    client.close()


@pytest.mark.timeout(60)
def test_closing_session_bind_only(address):
    client = Client(*address)
    session = client.new_session()
    with session.bind_only():
        # 'session' is active
        pass
    # 'session' is not active here; however it is NOT closed
    assert not session.closed
    session.close()
    client.close()


@pytest.mark.timeout(60)
def test_multiple_submits(address):
    client = Client(*address)
    with client.new_session() as session:
        a = blob("Hello world")
        t1 = tasks.Sleep(a, 1.0)
        t1.output.keep()
        session.submit()  # First submit
        t2 = tasks.Sleep(t1.output, 1.0)
        session.submit()  # Second submit
        session.wait_all()  # Wait until everything is finished
        t3 = tasks.Sleep(t1.output, 1.0)
        session.submit()  # Third submit
        session.wait_all()  # Wait again until everything is finished
    assert t2.state == t3.state == "finished"
    client.close()


@pytest.mark.timeout(60)
def test_attributes_python_api(address):
    client = Client(*address)
    with client.new_session() as s:
        task = tasks.Execute("sleep 1")
        s.submit()
        s.wait_all()
        # Download recent attributes
        task.update()
        # Print name of governor where task was executed
        print(task.info.governor)
    assert task.info.governor in {g["governor_id"] for g in client.get_server_info()["governors"]}
    assert task.info.error == "" and task.info.duration > 0 and task.outputs == []
    client.close()
