"""``exit`` and ``quit`` in the treadle kernel, as in ipykernel: the kernel asks the frontend to
close (an ``ask_exit`` payload in the execute_reply); ``exit(keep_kernel=True)`` asks it to leave
the kernel running. xeus-python's shell has no ``ask_exit``, so ``exit`` raised AttributeError."""

from IPython.core.autocall import ZMQExitAutocall


def install(shell):
    """Gives the xeus-python shell ipykernel's ``ask_exit`` and exiter."""
    shell.keepkernel_on_exit = None

    def ask_exit():
        shell.payload_manager.write_payload({"source": "ask_exit", "keepkernel": shell.keepkernel_on_exit})

    shell.ask_exit = ask_exit
    # IPython put the plain ExitAutocall (no keep_kernel) in the namespace; %reset uses shell.exiter.
    shell.exiter = ZMQExitAutocall(shell)
    for name in ("exit", "quit"):
        shell.user_ns[name] = shell.exiter
        shell.user_ns_hidden[name] = shell.exiter
