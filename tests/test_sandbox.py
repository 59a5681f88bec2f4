"""The operating-system walls around every run of untrusted input (verislice._sandbox, _worker).

Real bubblewrap, real processes: what a hostile simulator or parser process could try, and what
it gets."""

from __future__ import annotations

import io
import os
import pickle
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from verislice import Source, _worker
from verislice._sandbox import SandboxUnavailable, require_sandbox, run_limited, sandbox_dir

REPO = Path(__file__).resolve().parents[1]


def test_only_the_private_dir_is_writable_and_the_host_is_not_readable(tmp_path):
    canary = tmp_path / "canary"
    canary.mkdir()
    secret = tmp_path / "secret.txt"
    token = secrets.token_hex(16)
    secret.write_text(token)
    script = (f"touch {canary}/x; touch /x; touch /usr/x; cat {secret}; cat /etc/passwd; "
              f"ls {REPO}/tests; cat {REPO}/README.md | head -1; touch ok; echo done")
    with sandbox_dir() as d:
        r = run_limited(["sh", "-c", script], d, timeout=20)
        assert (d / "ok").exists()  # its own directory is writable
    assert r.returncode == 0 and r.stdout.strip().endswith("done")
    assert not list(canary.iterdir()) and not Path("/x").exists() and not Path("/usr/x").exists()
    assert token not in r.stdout + r.stderr
    assert "root:" not in r.stdout  # no /etc/passwd
    assert "test_sandbox.py" not in r.stdout and "verislice" not in r.stdout.lower().split("done")[0]


def test_no_network_no_other_processes_and_no_capabilities():
    with sandbox_dir() as d:
        r = run_limited(["sh", "-c", "cat /proc/net/dev; ls /proc | grep -c '^[0-9]'; "
                         "grep CapEff /proc/self/status"], d, timeout=20)
    lines = r.stdout.splitlines()
    assert not any(ln.strip().startswith(("eth", "en", "wl")) for ln in lines)  # only lo
    assert int(lines[-2]) <= 4  # sh, cat/ls/grep, bwrap's init: nothing of the host
    assert lines[-1].split()[-1] == "0000000000000000"


def test_timeout_kills_the_whole_tree_and_output_stays_bounded():
    nap = f"sleep {300 + secrets.randbelow(10**6) / 1000:.3f}"  # a command line no one else runs
    with sandbox_dir() as d:
        t = time.monotonic()
        r = run_limited(["sh", "-c", f"({nap} &); yes"], d, timeout=2,
                        max_output_chars=10_000)
        assert time.monotonic() - t < 10
    assert r.timed_out and r.returncode is None
    assert len(r.stdout) < 10_000 + 70 * 1024 + 200  # head + 64 KiB tail + note
    assert "bytes of output dropped" in r.stdout
    # the kernel ends the sandbox's processes when its init dies: at once, but asynchronously
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-f", nap], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, f"{nap} outlived its sandbox"
        time.sleep(0.1)


def test_memory_and_file_size_limits_hold():
    with sandbox_dir() as d:
        r = run_limited([sys.executable, "-c", "b = bytearray(3 << 30)"], d, timeout=30,
                        memory_mb=512)
        assert r.returncode != 0 and "MemoryError" in r.stderr
        r = run_limited(["sh", "-c", "head -c 50000000 /dev/zero > big"], d, timeout=30,
                        file_size_mb=1)
        assert r.returncode != 0 and (d / "big").stat().st_size <= 1 << 20


def test_no_sandbox_is_refused_with_the_flag_to_accept_the_risk(monkeypatch, tmp_path):
    from verislice import _sandbox

    monkeypatch.setattr(_sandbox, "_probe_result", {})
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on this PATH
    with pytest.raises(SandboxUnavailable) as exc:
        require_sandbox()
    assert "bubblewrap" in exc.value.message and "--no-sandbox" in exc.value.message
    assert "VERISLICE_SANDBOX=none" in exc.value.message
    monkeypatch.setenv("VERISLICE_SANDBOX", "none")
    require_sandbox()  # the user accepted the risk


def test_the_equiv_cli_refuses_to_run_without_a_sandbox(tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:/nonexistent"}
    r = subprocess.run([sys.executable, "-m", "verislice.cli", "equiv", str(REPO / "examples/kbd/ref.v"),
                        str(REPO / "examples/kbd/gen.v")], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "cannot start the sandbox" in r.stderr and "--no-sandbox" in r.stderr


def test_ctrl_c_leaves_no_simulator_and_no_temp_dir(tmp_path):
    """An interrupted caller kills its sandboxes and removes their directories."""
    marker = secrets.token_hex(6)
    script = textwrap.dedent(f"""
        import sys
        from verislice._sandbox import run_limited, sandbox_dir
        with sandbox_dir("vs-{marker}-") as d:
            print(d, flush=True)
            run_limited(["sh", "-c", "sleep 1000 # {marker}"], d, timeout=600)
    """)
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                         stderr=subprocess.PIPE, env=env, cwd=REPO)
    d = Path(p.stdout.readline().strip())
    assert d.exists()
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=20)
    time.sleep(0.5)
    assert not d.exists()
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    assert left.strip() == ""


# -- the front-end worker ----------------------------------------------------------------------

def test_a_pyslang_crash_costs_one_job_and_the_worker_comes_back():
    chain = "module m(input a, output z);\n wire z = " + " | ".join(["a"] * 60000) + ";\nendmodule\n"
    good = Source("module m(input a, output y); assign y = a; endmodule", "g.v")
    with _worker.worker() as w:
        with pytest.raises(_worker.WorkerFailed) as exc:
            w.call("screen_design", [Source(chain, "c.v")], None, (), False, None)
        assert exc.value.reason == "crash" and "SIGSEGV" in exc.value.message
        res = w.call("screen_design", [good], None, (), False, None)
    assert res.verdict == "OK" and res.top == "m"


def test_a_worker_that_runs_too_long_is_stopped():
    with _worker.worker() as w:
        with pytest.raises(_worker.WorkerFailed) as exc:
            # a chain of generate loops that takes pyslang far longer than the limit
            bomb = "module l0; endmodule\n" + "".join(
                f"module l{i}; l{i - 1} u[0:999](); endmodule\n" for i in range(1, 5))
            w.call("screen_design", [Source(bomb, "b.v")], None, (), False, None, timeout=2)
        assert exc.value.reason in ("timeout", "memory")


def test_results_from_a_worker_cannot_run_code_in_the_parent():
    evil = pickle.dumps(os.system)  # what a worker taken over by its input might send
    with pytest.raises(pickle.UnpicklingError):
        _worker._SafeUnpickler(io.BytesIO(evil)).load()
    ok = pickle.dumps({"a": frozenset({1}), "s": Source("x", "y")})
    assert _worker._SafeUnpickler(io.BytesIO(ok)).load()["s"] == Source("x", "y")


def test_a_fork_bomb_hits_the_process_limit(tmp_path):
    """Processes are limited by a pids cgroup (root can ignore RLIMIT_NPROC)."""
    from verislice._sandbox import _pids_root

    if _pids_root() is None:
        pytest.skip("no writable pids cgroup here (not root): the limit cannot be set")
    script = textwrap.dedent("""
        from verislice import _sandbox
        _sandbox.MAX_PIDS = 30
        with _sandbox.sandbox_dir() as d:
            r = _sandbox.run_limited(["sh", "-c", "for i in $(seq 200); do sleep 3 & done; wait"],
                                     d, timeout=20)
        print("FORK-FAILED" if "fork" in r.stderr.lower() else "NO-LIMIT")
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO,
                       timeout=60)
    assert "FORK-FAILED" in r.stdout, (r.stdout, r.stderr[-2000:])


def test_a_design_directly_in_tmp_is_checked():
    # a reference in /tmp makes /tmp a read-only path of its front-end sandbox; the private
    # work directory must not sit under it (it did: "the front end stopped unexpectedly")
    import tempfile

    from verislice import equiv

    text = "module m(input a, input b, output y);\n  assign y = a & b;\nendmodule\n"
    paths = []
    try:
        for _ in range(2):
            fd, path = tempfile.mkstemp(suffix=".v", dir="/tmp")
            os.write(fd, text.encode())
            os.close(fd)
            paths.append(path)
        r = equiv.check(paths[0], paths[1])
        assert r.verdict == "OK" and r.outputs["y"].verdict == "MATCH", r
    finally:
        for p in paths:
            os.unlink(p)
