"""The three harness rules: how each benchmark's own testbench decides pass or fail.

Each rule writes the files its benchmark's harness writes, runs the same Icarus commands (through
:func:`verislice._sandbox.run_limited`: own temp dir, limits, process group killed on timeout)
and reads the log with the same rule:

* ``verilogeval-v2`` (``scripts/sv-iv-analyze``): ``candidate.sv test.sv ref.sv`` compiled
  together; pass iff a log line is exactly ``Mismatches: 0 in N samples`` and no line holds
  ``syntax error``, ``error``, ``TIMEOUT``, ``Unknown module type``, ``Unable to bind wire/reg``,
  ``is declared here as wire`` or a no-sensitivity warning.
* ``verilogeval-v1`` (``verilog_eval/execution.py``): one file ``testbench + "\\n" + header +
  "\\n" + completion``; pass iff stderr is empty (any warning fails) and stdout holds
  ``Mismatches: 0 in N samples``.
* ``rtllm`` (``auto_run.py``, VCS replaced by Icarus with ``+timescale+1ns/1ns``): design and
  testbench with the task's data files in the working directory; pass iff stdout holds
  ``Your Design Passed``.

Fail-fast (default on, VerilogEval only): every VerilogEval testbench counts mismatching samples
in ``tb.stats1.errors`` and fails the sample when the final count is non-zero. The count never goes
down, so a small extra top-level module that calls ``$finish`` as soon as it leaves zero changes no
pass/fail verdict; the testbench's ``final`` block still prints ``Mismatches: N in M samples``
(counted up to the stop). It turns a wrong answer to a long testbench (conwaylife: 3-9 s) into a
few milliseconds. Off (``fail_fast=False``), the simulation runs as shipped and reports full counts.

How a response becomes the candidate (see :func:`candidate_files`): the code is located with
:func:`salv_trainer.extract.extract_code`. Where the benchmark gives the model a module header
(v1, v2 completion), a response that declares the top module itself is used as the whole module
(replacing header + completion); otherwise the response is a completion and the header is put in
front of it, as the harnesses do.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from verislice._sandbox import run_limited, sandbox_dir

from ..extract import extract_code
from ._tasks import Task

__all__ = ["HARNESS_VERSION", "Job", "SampleResult", "VERDICTS", "candidate_files", "plan", "run_job"]

#: Bump when a rule changes: cached verdicts of another version are not reused.
HARNESS_VERSION = 1

#: Every verdict a sample can get. Only ``pass`` counts as correct.
VERDICTS = (
    "pass",           # the benchmark's testbench says so
    "no_code",        # the response holds no Verilog at all (not simulated)
    "syntax_error",   # the compiler reports a syntax error
    "compile_error",  # any other compile/elaboration error (unknown module, port binding, ...)
    "warning",        # compiled and matched, but the rule fails warnings (v1 stderr, v2 no-sensitivity)
    "timeout",        # compile or simulation ran out of time (or the testbench printed TIMEOUT)
    "mismatch",       # simulated; the testbench reports mismatches / no pass message
    "sim_error",      # simulated, but the testbench never reported a result (crash, early $finish)
)

# Per-run limits in seconds, from the harnesses (v1: 30 s for everything; v2: `timeout 30`; RTLLM
# about 8 s). Compilation gets the same limit.
DEFAULT_TIMEOUTS = {"verilogeval-v2": 30.0, "verilogeval-v1": 30.0, "rtllm": 8.0}

_V2_COMPILE = ["iverilog", "-Wall", "-Winfloop", "-Wno-timescale", "-g2012"]
_V2_PASS = re.compile(r"^Mismatches: (\d+) in \d+ samples$")
_V1_PASS = re.compile(r"Mismatches: 0 in \d+ samples")
_ANY_MISMATCH = re.compile(r"Mismatches: (\d+) in \d+ samples")
_RTLLM_PASS = "Your Design Passed"
# The VerilogEval rules accept "Mismatches: 0 in 0 samples" (e.g. a candidate that calls $finish at
# time 0). We keep the benchmark's verdict and say so in the message.
_ZERO_SAMPLES = re.compile(r"^Mismatches: 0 in 0 samples$", re.M)
_ZERO_NOTE = "passed with 0 samples compared (the benchmark's rule accepts it)"


@dataclass(frozen=True)
class SampleResult:
    """Verdict of one response. ``code`` is the harness's own label where it has one (v2:
    the ``sv-iv-analyze`` letter, ``.`` = pass), ``message`` the first telling log line."""

    verdict: str
    code: str = ""
    mismatches: int | None = None
    seconds: float = 0.0
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "code": self.code, "mismatches": self.mismatches,
                "seconds": round(self.seconds, 4), "message": self.message}

    @classmethod
    def from_json(cls, d: Mapping) -> SampleResult:
        return cls(d["verdict"], d.get("code", ""), d.get("mismatches"), d.get("seconds", 0.0),
                   d.get("message", ""))


@dataclass(frozen=True)
class Job:
    """One simulation to run: files for the sandbox and the rule that reads the log."""

    rule: str
    files: Mapping[str, str]
    testbench_top: str
    timeout: float
    key: str = field(default="", compare=False)


# -- candidates --------------------------------------------------------------------------------

_FENCE_BODY = re.compile(r"```[^\n]*\n(.*?)(?:```|\Z)", re.S)
_BEGIN_DONE = re.compile(r"\[BEGIN\](.*?)(?:\[DONE\]|\Z)", re.S)


def _completion_text(response: str) -> str:
    """The code part of a completion-style response (no module line of its own)."""
    fences = _FENCE_BODY.findall(response)
    if fences:
        return fences[-1]
    m = _BEGIN_DONE.search(response)
    if m:
        return m.group(1)
    return response


def _declares(code: str, module: str) -> bool:
    return re.search(rf"\b(?:module|macromodule)\s+{re.escape(module)}\b", code) is not None


def candidate_code(task: Task, response: str) -> str | None:
    """The Verilog that stands for ``response`` in place of the model's module(s).

    ``None`` when the response holds no code. For benchmarks with a module header, a response that
    does not declare the top module is a completion: ``module_header + "\\n" + completion``.
    """
    block = extract_code(response)
    if block is not None and not _declares(block.text, task.top_module):
        # e.g. the module in one fence, then a testbench in the last one: take the last fenced
        # block that declares the top module
        for body in reversed(_FENCE_BODY.findall(response)):
            if _declares(body, task.top_module):
                found = extract_code(body)
                block = found if found is not None else block
                break
    if task.module_header:
        if block is not None and _declares(block.text, task.top_module):
            return block.text
        body = _completion_text(response)
        if not body.strip():
            return None
        return task.module_header + "\n" + body
    if block is None or not block.text.strip():
        return None
    return block.text


FAIL_FAST_FILE = "salv_fail_fast.sv"
FAIL_FAST_TOP = "__salv_eval_fail_fast"
FAIL_FAST_SOURCE = f"""module {FAIL_FAST_TOP};
  initial begin
    wait (tb.stats1.errors != 0);
    $finish;
  end
endmodule
"""


def candidate_files(task: Task, code: str, *, fail_fast: bool = False) -> dict[str, str]:
    """Files the benchmark's harness writes for candidate ``code`` (plus the fail-fast watcher
    for VerilogEval when ``fail_fast``)."""
    rule = task.rule
    extra = {FAIL_FAST_FILE: FAIL_FAST_SOURCE} if fail_fast and task.testbench_top == "tb" \
        and "stats1.errors" in task.testbench else {}
    if rule == "verilogeval-v2":
        return {"candidate.sv": code, "test.sv": task.testbench, "ref.sv": task.reference, **extra}
    if rule == "verilogeval-v1":
        return {"test.sv": task.testbench + "\n" + code, **extra}
    files = dict(task.extra_files)
    files.update({"design.v": code, "testbench.v": task.testbench, "ts.f": "+timescale+1ns/1ns\n"})
    return files


def plan(task: Task, response: str, *, timeout: float | None = None,
         fail_fast: bool = True) -> Job | SampleResult:
    """The simulation ``response`` needs, or its verdict when none is needed (``no_code``)."""
    code = candidate_code(task, response)
    if code is None:
        return SampleResult("no_code", message="no Verilog code found in the response")
    files = candidate_files(task, code, fail_fast=fail_fast)
    t = timeout if timeout is not None else DEFAULT_TIMEOUTS[task.rule]
    h = hashlib.sha256()
    for part in (str(HARNESS_VERSION), task.rule, task.testbench_top, repr(t)):
        h.update(part.encode() + b"\0")
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode("utf-8", "replace") + b"\0")
    return Job(task.rule, files, task.testbench_top, t, h.hexdigest())


# -- running -----------------------------------------------------------------------------------


def run_job(job: Job) -> SampleResult:
    """Simulate ``job`` in a fresh sandbox and judge the log by its benchmark's rule.

    Never raises for anything the candidate does; a failure of the host (e.g. iverilog missing)
    gives a ``sim_error`` verdict whose message says so.
    """
    try:
        with sandbox_dir("salv-eval-") as d:
            for name, text in job.files.items():
                (d / name).write_text(text, encoding="utf-8", errors="replace")
            return _RUNNERS[job.rule](job, d)
    except OSError as exc:  # e.g. a full disk: still one verdict, never a lost run
        return SampleResult("sim_error", message=f"sandbox: {exc}")


def _first(lines, *needles: str) -> str:
    for line in lines:
        if any(n in line for n in needles):
            return line.strip()[:300]
    return ""


def _missing_tool(r) -> SampleResult | None:
    if r.returncode == 127 and "command not found" in r.stderr:
        return SampleResult("sim_error", message=r.stderr.strip())
    return None


def _fail_fast_args(job: Job) -> list[str]:
    return ["-s", FAIL_FAST_TOP, FAIL_FAST_FILE] if FAIL_FAST_FILE in job.files else []


def _run_v2(job: Job, d) -> SampleResult:
    comp = run_limited([*_V2_COMPILE, "-s", job.testbench_top, "-o", "sim",
                        "candidate.sv", "test.sv", "ref.sv", *_fail_fast_args(job)], d,
                       timeout=job.timeout)
    if (bad := _missing_tool(comp)) is not None:
        return bad
    log = comp.stdout + comp.stderr
    seconds = comp.seconds
    if comp.timed_out:
        log += "\nTIMEOUT\n"
    elif comp.returncode == 0:
        # -none: no waveform dump (the verdict never depends on it; saves disk and time)
        run = run_limited(["vvp", "-n", "sim", "-none"], d, timeout=job.timeout)
        seconds += run.seconds
        log += run.stdout + run.stderr
        if run.timed_out:
            log += "\nTIMEOUT\n"
    code, mismatches = sv_iv_analyze(log, job.files["candidate.sv"])
    lines = log.splitlines()
    if code == "." and _ZERO_SAMPLES.search(log):
        return SampleResult("pass", code, 0, seconds, _ZERO_NOTE)
    verdict = _V2_VERDICT.get(code, "mismatch")
    if code in ("R", "r") and not mismatches:
        verdict = "sim_error"
    message = "" if code == "." else (
        _first(lines, "syntax error", ": error", "error", "TIMEOUT", "Unknown module", "Unable to bind",
               "declared here as wire", "sensitivit") or _first(lines, "Mismatches:", "Hint:"))
    return SampleResult(verdict, code, mismatches, seconds, message)


_V2_VERDICT = {".": "pass", "S": "syntax_error", "e": "compile_error", "0": "compile_error",
               "w": "compile_error", "m": "compile_error", "c": "compile_error",
               "p": "compile_error", "C": "compile_error", "n": "warning", "T": "timeout",
               "R": "mismatch", "r": "mismatch"}


def sv_iv_analyze(log: str, candidate: str) -> tuple[str, int | None]:
    """VerilogEval v2's log rule: the ``sv-iv-analyze`` letter and the reported mismatch count.

    Letters: ``.`` pass, ``S`` syntax error, ``e`` explicit cast needed, ``0`` zero-width
    constant, ``n`` no sensitivities, ``w`` reg driven as wire, ``m`` unknown module, ``c``
    ``clk`` not bound, ``p`` port binding, ``T`` timeout, ``C`` other compile error, ``r``/``R``
    runtime mismatch (``r``: the candidate uses an asynchronous ``reset`` edge).
    """
    code = "?"
    error_c = error_p = no_mismatch = False
    mismatches: int | None = None
    for line in log.splitlines():
        if "syntax error" in line:
            code = "S"
            break
        if "error" in line:
            error_c = True
        if "error: This assignment requires an explicit cast" in line:
            code = "e"
            break
        if "error: Sized numeric constant must have a size greater than zero" in line:
            code = "0"
            break
        if ("warning: always_comb process has no sensitivities" in line
                or "found no sensitivities so it will never trigger" in line):
            code = "n"
            break
        if "is declared here as wire" in line:
            code = "w"
            break
        if "Unknown module type" in line:
            code = "m"
            break
        if "Unable to bind wire/reg" in line:
            error_p = True
        if "Unable to bind wire/reg/memory `clk'" in line:
            code = "c"
            break
        if "TIMEOUT" in line:
            code = "T"
            break
        m = _V2_PASS.match(line)
        if m:
            n = int(m.group(1))
            if n == 0:
                no_mismatch = True
            else:
                mismatches = n
    if code == "?" and error_p:
        code = "p"
    if code == "?" and error_c:
        code = "C"
    if code == "?" and no_mismatch:
        code, mismatches = ".", 0
    if code == "?":
        code = "R"
        for line in candidate.splitlines():
            if "posedge reset" in line or "negedge reset" in line or "posedge r)" in line:
                code = "r"
                break
    return code, mismatches


def _compile_failure(stderr: str, stdout: str = "") -> SampleResult:
    lines = (stderr + stdout).splitlines()
    verdict = "syntax_error" if "syntax error" in stderr + stdout else "compile_error"
    return SampleResult(verdict, "failed: compile error.", None, 0.0,
                        _first(lines, "syntax error", ": error", "error") or (lines[0][:300] if lines else ""))


def _run_v1(job: Job, d) -> SampleResult:
    comp = run_limited([*_V2_COMPILE, "-s", job.testbench_top, "-o", "test.vvp", "test.sv",
                        *_fail_fast_args(job)], d, timeout=job.timeout)
    if (bad := _missing_tool(comp)) is not None:
        return bad
    if comp.timed_out:
        return SampleResult("timeout", "timed out", None, comp.seconds, "compilation timed out")
    if comp.returncode != 0:
        r = _compile_failure(comp.stderr, comp.stdout)
        return SampleResult(r.verdict, r.code, None, comp.seconds, r.message)
    left = max(1.0, job.timeout - comp.seconds)
    run = run_limited(["vvp", "-n", "test.vvp", "-none"], d, timeout=left)
    seconds = comp.seconds + run.seconds
    if run.timed_out:
        return SampleResult("timeout", "timed out", None, seconds, f"simulation ran over {job.timeout:g} s")
    mism = _ANY_MISMATCH.search(run.stdout)
    mismatches = int(mism.group(1)) if mism else None
    stderr = comp.stderr + run.stderr
    if _V1_PASS.search(run.stdout):
        if stderr:
            return SampleResult("warning", "failed: stderr", 0, seconds, stderr.strip().splitlines()[0][:300])
        note = _ZERO_NOTE if _ZERO_SAMPLES.search(run.stdout) else ""
        return SampleResult("pass", "passed", 0, seconds, note)
    if mismatches:
        return SampleResult("mismatch", "failed: mismatch", mismatches, seconds,
                            _first(run.stdout.splitlines(), "Mismatches:"))
    return SampleResult("sim_error", "failed: no result", None, seconds,
                        (stderr.strip().splitlines() or ["the testbench printed no result"])[0][:300])


def _run_rtllm(job: Job, d) -> SampleResult:
    comp = run_limited(["iverilog", "-g2012", "-c", "ts.f", "-s", job.testbench_top, "-o", "sim.vvp",
                        "design.v", "testbench.v"], d, timeout=job.timeout)
    if (bad := _missing_tool(comp)) is not None:
        return bad
    if comp.timed_out:
        return SampleResult("timeout", "", None, comp.seconds, "compilation timed out")
    if comp.returncode != 0:
        r = _compile_failure(comp.stderr, comp.stdout)
        return SampleResult(r.verdict, "", None, comp.seconds, r.message)
    run = run_limited(["vvp", "-n", "sim.vvp", "-none"], d, timeout=job.timeout)
    seconds = comp.seconds + run.seconds
    if run.timed_out:
        return SampleResult("timeout", "", None, seconds, f"simulation ran over {job.timeout:g} s")
    if _RTLLM_PASS in run.stdout:
        return SampleResult("pass", "", None, seconds)
    out = run.stdout.strip().splitlines()
    if not out:
        return SampleResult("sim_error", "", None, seconds,
                            (run.stderr.strip().splitlines() or ["the testbench printed nothing"])[0][:300])
    return SampleResult("mismatch", "", None, seconds,
                        _first(out, "fail", "Fail", "error", "Error") or out[-1][:300])


_RUNNERS = {"verilogeval-v2": _run_v2, "verilogeval-v1": _run_v1, "rtllm": _run_rtllm}
