"""cocotb test run inside the simulator for ``verislice equiv`` (loaded by module name).

The generated testbench applies the stimulus and compares outputs in Verilog (fast: no Python
per cycle); this test supervises it: it waits, with a simulated-time limit, for the testbench to
raise ``done`` and fails the cocotb run when it never does (a candidate ran ``$finish``, or the
stimulus loop stalled). Only cocotb is imported here, so simulator start-up stays short.
"""

import os

import cocotb
from cocotb.triggers import First, RisingEdge, Timer


@cocotb.test()
async def equivalence(dut):
    """Every sample applied and compared, results written."""
    limit_ns = int(os.environ.get("VERISLICE_SIM_NS", "1000000"))
    done = dut.done
    if str(done.value) != "1":
        await First(RisingEdge(done), Timer(limit_ns, "ns"))
    assert str(done.value) == "1", f"testbench did not finish within {limit_ns} ns"
