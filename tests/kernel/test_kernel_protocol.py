"""The treadle kernel under the stock kernel test suite (jupyter_kernel_test), plus a few
message-level checks of our own."""

import unittest

import jupyter_kernel_test

TIMEOUT = 15


class TreadleKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "treadle"
    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('test', file=sys.stderr)"

    completion_samples = [
        {"text": "zi", "matches": {"zip"}},
        {"text": "%treadle w", "matches": {"workers", "why"}},
        {"text": "%treadle s", "matches": {"status", "stop"}},
        {"text": "%treadle c", "matches": {"config"}},
        {"text": "%%treadle t", "matches": {"task"}},
        {"text": "%treadle workers --h", "matches": {"--hosts", "--hostfile"}},
        {"text": "%treadle config cancel_on_interrupt=of", "matches": {"off"}},
    ]

    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n"]
    incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2"]
    invalid_code_samples = ["import = 7q"]

    code_page_something = "print?"

    code_generate_error = "raise ValueError('boom')"

    code_execute_result = [
        {"code": "1+2+3", "result": "6"},
        {"code": "[n*n for n in range(1, 4)]", "result": "[1, 4, 9]"},
    ]

    code_display_data = [
        {"code": "from IPython.display import HTML, display; display(HTML('<b>test</b>'))", "mime": "text/html"},
        {"code": "from IPython.display import Math, display; display(Math('\\\\frac{1}{2}'))", "mime": "text/latex"},
    ]

    code_history_pattern = "1?2*"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "zip"

    code_clear_output = "from IPython.display import clear_output; clear_output()"

    # -- our own ---------------------------------------------------------------------------

    def test_kernel_info_fields(self):
        self.flush_channels()
        self.kc.kernel_info()
        reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        self.assertEqual(reply["msg_type"], "kernel_info_reply")
        content = reply["content"]
        self.assertEqual(content["implementation"], "xtreadle")
        import platform
        self.assertEqual(content["language_info"]["version"], platform.python_version())
        self.assertEqual(content["language_info"]["pygments_lexer"], "ipython3")
        self.assertIn("treadle", content["banner"])

    def test_error_names_the_exception_class(self):
        self.flush_channels()
        reply, output_msgs = self.execute_helper("raise KeyError('k')")
        self.assertEqual(reply["content"]["ename"], "KeyError")
        self.assertEqual(output_msgs[0]["content"]["ename"], "KeyError")

    def test_output_keeps_its_order(self):
        # Text queued by the coalescing streams goes out before the error and the result.
        self.flush_channels()
        reply, msgs = self.execute_helper("import sys\nprint('a')\nprint('b', file=sys.stderr)\nprint('c')\n1/0")
        kinds = [(m["msg_type"], m["content"].get("name")) for m in msgs]
        self.assertEqual(kinds, [("stream", "stdout"), ("stream", "stderr"), ("stream", "stdout"), ("error", None)])
        reply, msgs = self.execute_helper("print('x')\n42")
        self.assertEqual([m["msg_type"] for m in msgs], ["stream", "execute_result"])

    def test_ten_thousand_prints(self):
        # One message per write() loses output and the final idle (xeus-python 0.14).
        self.flush_channels()
        reply, msgs = self.execute_helper("for i in range(10000):\n    print(i)", timeout=60)
        self.assertEqual(reply["content"]["status"], "ok")
        out = "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")
        self.assertEqual(out.split(), [str(i) for i in range(10000)])
        self.assertLess(len(msgs), 200)

    def test_usage_error_is_one_line(self):
        self.flush_channels()
        reply, msgs = self.execute_helper("%treadle workers lots")
        # As in ipykernel: the cell failed (Run All stops), shown as one line without traceback.
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "UsageError")
        self.assertEqual([m["msg_type"] for m in msgs], ["stream"])
        err = msgs[0]["content"]["text"]
        self.assertEqual(msgs[0]["content"]["name"], "stderr")
        self.assertTrue(err.startswith("UsageError:"), err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_treadle_help(self):
        self.flush_channels()
        reply, msgs = self.execute_helper("%treadle?")
        payload = reply["content"]["payload"]
        self.assertEqual(len(payload), 1)
        self.assertIn("%treadle workers N", payload[0]["data"]["text/plain"])


if __name__ == "__main__":
    unittest.main()
