"""cocotb's part of a ``verislice equiv`` simulation (the cocotb engine), run inside ``vvp``.

cocotb's PyGPI starts Python in the simulator and calls :func:`start` (``PYGPI_USERS=
verislice_equiv_cocotb:start``, set by ``verislice.equiv._runner``) before time 0. The
generated testbench (``verislice.equiv._wrapper``) does all per-cycle work in Verilog: it preloads
the stimulus into a memory (``$readmemh``), steps through it with its own clock, compares outputs
and counts mismatches, writes ``results.txt`` and raises ``done``. It is the same testbench the
vvp engine runs; there ``go`` starts high, here cocotb holds the driver until it sets ``go``.

cocotb here: finds the testbench, starts the driver (``go``, written before any process runs, so
the driver starts in the same place of time 0 as with the vvp engine), waits for ``done`` with a
simulated-time limit, checks that ``results.txt`` is complete (its last line carries this run's
nonce), writes its verdict to ``cocotb.txt`` (``PASS``, or ``FAIL <why>``) and stops the
simulator (candidates' own processes may run forever). No Python runs per cycle.

Only cocotb's GPI binding (``cocotb.simulator``) is used, loaded from its file: importing the
``cocotb`` package runs its regression manager's imports (pytest, asyncio, logging), about 0.2 s
of CPU per simulation, several times the cost of simulating 20 candidates. Nothing here is
imported by verislice itself; this module only runs inside the sandboxed simulator.
"""

import os

STATUS_FILE = "cocotb.txt"
RESULTS_FILE = "results.txt"
_NO_DELAY = 3  # cocotb's GPI set action "no delay": the value is there before any process runs


def _simulator():
    """cocotb's GPI binding (``cocotb.simulator``), without running ``cocotb/__init__``."""
    import importlib.machinery

    path = os.environ["VERISLICE_COCOTB_SIMULATOR"]
    loader = importlib.machinery.ExtensionFileLoader("cocotb.simulator", path)
    spec = importlib.machinery.ModuleSpec("cocotb.simulator", loader, origin=path)
    module = loader.create_module(spec)
    loader.exec_module(module)
    return module


def _write_status(text: str) -> None:
    with open(STATUS_FILE, "w") as fh:
        fh.write(text + "\n")


def results_complete(path: str, nonce: str) -> str:
    """Why ``path`` is not a complete results file of the run with ``nonce`` ("" when it is)."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - 256))
            tail = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"no results file ({exc.strerror})"
    if not tail.rstrip().endswith(f"END {nonce}"):
        return "the results file does not end with this run's nonce"
    return ""


def start() -> None:
    """PyGPI entry point: set up the run (called once, before time 0)."""
    sim = _simulator()
    nonce = os.environ["VERISLICE_NONCE"]
    top = os.environ.get("VERISLICE_TOP", "verislice_tb")
    limit_ns = int(os.environ.get("VERISLICE_SIM_NS", "1000000"))
    root = sim.get_root_handle(top)
    go = root.get_handle_by_name("go") if root is not None else None
    done = root.get_handle_by_name("done") if root is not None else None
    if go is None or done is None:
        _write_status(f"FAIL testbench {top} with go and done not found")
        sim.stop_simulator()
        return
    finished = []

    def finish(status: str) -> None:
        # the other callbacks stay registered (deregistering the one that is running crashes the
        # simulator at exit); they do nothing once the run has its verdict
        if finished:
            return
        finished.append(status)
        _write_status(status)
        sim.stop_simulator()

    def on_done(*_args) -> None:
        if done.get_signal_val_binstr() != "1":
            return
        why = results_complete(RESULTS_FILE, nonce)
        finish(f"FAIL {why}" if why else "PASS")

    def on_limit(*_args) -> None:
        finish(f"FAIL the testbench did not finish within {limit_ns} ns")

    def on_sim_event(*_args) -> None:
        # the simulator ended on its own (a $finish, $stop or fatal error of a candidate)
        finish("FAIL the simulation ended before the testbench finished")

    steps = limit_ns * 10 ** max(0, -9 - sim.get_precision())
    sim.register_value_change_callback(done, on_done, sim.RISING)
    sim.register_timed_callback(steps, on_limit)
    sim.set_sim_event_callback(on_sim_event)
    go.set_signal_val_int(_NO_DELAY, 1)
