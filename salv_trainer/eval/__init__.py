"""Evaluation: pass@k on VerilogEval v1/v2 and RTLLM, each judged by its own testbench.

Public surface::

    from salv_trainer.eval import load_benchmark, score_responses, pass_at_k

    tasks = load_benchmark("verilogeval-v2-spec", "path/to/verilog-eval")
    result = score_responses(tasks, {"Prob001_zero": ["module TopModule(...) ..."]}, ks=(1,), jobs=2)
    result.pass_at_k        # {"1": 1.0}
    result.to_json()        # benchmark, settings, pass_at_k, tasks {id: {n, c, verdicts, ...}}

:func:`evaluate_model` adds generation with a local model (:mod:`salv_trainer.generate`);
:func:`run_protocol` runs the paper's whole evaluation grid for one model (``--protocol paper``).
Harness rules and the response-to-candidate mapping are documented in ``docs/eval.md``.
"""

from ._errors import EvalError
from ._harness import HARNESS_VERSION, VERDICTS, SampleResult, candidate_code
from ._load import load_benchmark
from ._passk import mean_pass_at_k, pass_at_k
from ._runner import EvalResult, TaskResult, VerdictCache, score_responses
from ._tasks import BENCHMARKS, Benchmark, Task
from ._run_eval import EvalConfig, evaluate_model, read_responses, run_eval, write_json, write_responses
from ._protocol import PROTOCOLS, ProtocolConfig, ProtocolResult, run_protocol

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "EvalConfig",
    "EvalError",
    "EvalResult",
    "HARNESS_VERSION",
    "PROTOCOLS",
    "ProtocolConfig",
    "ProtocolResult",
    "SampleResult",
    "Task",
    "TaskResult",
    "VERDICTS",
    "VerdictCache",
    "candidate_code",
    "evaluate_model",
    "load_benchmark",
    "mean_pass_at_k",
    "pass_at_k",
    "read_responses",
    "run_eval",
    "run_protocol",
    "score_responses",
    "write_json",
    "write_responses",
]
