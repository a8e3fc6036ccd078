"""treadle's core: what every API, the executor and the notebook share, and nothing above it.

The only importer of the compiled engine (``engine``); a client's connection to a server
(``connection``) and what the clients of every API share (``client``: plans sent, waits,
fetches, releases, the handles of submitted tasks); the plan's wire format, written and read
in one place (``plan``, its nodes in ``task``); addresses (``address``); what tasks print, as
marked lines (``output_lines``); walks over nested lists and dicts of futures (``walk``);
child processes that die with this one (``processes``); what clients tell listeners
(``hooks``) and the record of submitted plans kept by listening (``lineage``); errors and a
task's exception in transit (``errors``, ``remote_exception``); pickling (``pickling``); the
server a notebook kernel embeds, for every API's default client (``embedded_server``).
"""
