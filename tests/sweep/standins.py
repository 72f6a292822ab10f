"""Stand-ins for the sweep tests: a training script that only writes results.json,
and sweep YAMLs whose command runs it, so a whole sweep takes seconds."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

# Behaviour is steered by environment variables, which the sweep passes on:
#   STANDIN_LOG   file that gets one JSON line per run start (args, pid, env, times)
#   STANDIN_SLEEP seconds to sleep between "running" and "finished"
#   STANDIN_FAIL  value of parameter `a` whose runs exit with status 3
#   STANDIN_EXIT_ON_SIGNAL  exit with this status on SIGINT/SIGTERM (as click's "Aborted!" does)
STANDIN_TRAIN = r"""
import json, os, signal, sys, time

if os.environ.get("STANDIN_EXIT_ON_SIGNAL"):
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: sys.exit(int(os.environ["STANDIN_EXIT_ON_SIGNAL"])))

out = os.environ["SSLEXP_OUTPUT_DIR"]
os.makedirs(out, exist_ok=True)
args = dict(arg[2:].split("=", 1) for arg in sys.argv[1:])
watched = ["SSLEXP_OUTPUT_DIR", "SSLEXP_RUN_NAME", "SSLEXP_GROUP", "WANDB_RUN_GROUP", "WANDB_MODE",
           "SSLEXP_WANDB_MODE", "WANDB_DIR", "TF_FORCE_GPU_ALLOW_GROWTH", "CUDA_VISIBLE_DEVICES"]
started = time.time()

def log(**record):
    with open(os.environ["STANDIN_LOG"], "a") as handle:
        handle.write(json.dumps(record) + "\n")

def write_results(state, **extra):
    path = os.path.join(out, "results.json")
    with open(path + ".tmp", "w") as handle:
        json.dump({"kind": "train", "state": state, "config": args, **extra}, handle)
    os.replace(path + ".tmp", path)

log(event="start", args=args, pid=os.getpid(), cwd=os.getcwd(), time=started,
    env={name: os.environ.get(name) for name in watched})
write_results("running")
with open(os.path.join(out, "partial.txt"), "w") as handle:
    handle.write("written before the run finished\n")
time.sleep(float(os.environ.get("STANDIN_SLEEP", "0")))
if os.environ.get("STANDIN_FAIL") == args.get("a"):
    print("stand-in failure for a=" + args["a"])
    sys.exit(3)
os.remove(os.path.join(out, "partial.txt"))
write_results("finished", test={"accuracy": float(args.get("a", 0)) / 10})
log(event="end", args=args, pid=os.getpid(), time=time.time())
"""


class Standin:
    """The stand-in script and its log: write sweeps that run it, read what it did."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.script = directory / "standin_train.py"
        self.script.write_text(STANDIN_TRAIN)
        self.log = directory / "standin.jsonl"

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment to hand a sweep (it adds its own variables for each run)."""
        return {**os.environ, "STANDIN_LOG": str(self.log), "STANDIN_SLEEP": "0", **overrides}

    def make_sweep(self, parameters: dict | None = None, name: str = "tiny", **extra) -> Path:
        """A grid sweep YAML over ``parameters`` (default a: 1,2,3 x b: x,y) running the
        stand-in."""
        parameters = parameters or {"a": {"values": [1, 2, 3]}, "b": {"values": ["x", "y"]}}
        config = {
            "name": name,
            "method": "grid",
            "metric": {"name": "test/accuracy", "goal": "maximize"},
            "parameters": parameters,
            "command": ["${env}", "${interpreter}", str(self.script), "${args}"],
            **extra,
        }
        path = self.directory / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def records(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def starts(self) -> list[dict]:
        return [record for record in self.records() if record["event"] == "start"]

    def started_configs(self) -> list[tuple]:
        """The parameters of every run start, as sorted (name, value) tuples."""
        return [tuple(sorted(record["args"].items())) for record in self.starts()]


def read_ledger(sweep_dir: Path) -> dict:
    return json.loads((sweep_dir / "ledger.json").read_text())
