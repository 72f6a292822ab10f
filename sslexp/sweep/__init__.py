"""W&B sweeps for sslexp, offline and online.

Offline, the PyPI ``sweeps`` engine (the one the W&B server runs) proposes each
next run from the sweep YAML and the runs so far, and local workers execute the
YAML's ``command`` exactly as a ``wandb agent`` would, keeping a ledger on disk
so an interrupted sweep resumes. Online, ``wandb.sweep`` creates the sweep and
one agent process per GPU slot runs it. Either way each run goes through one
executor interface, in a long-lived worker or a process of its own.

Modules: ``spec`` (a sweep YAML and the engine), ``ledger`` (the sweep
directory's run table, and what a finished run means for it), ``runner``
(local workers claiming runs), ``executor`` (a run's command line and
environment; the executor interface and its two back ends), ``worker`` (the
in-process runner, a long-lived process running one ``sslexp train`` after
another), ``gpus`` (this machine's GPUs and how slots are dealt them),
``processes`` (liveness and signals of the processes started), ``online``
(creating a sweep on W&B, Slurm scripts), ``agent_pool`` (this machine's agent
processes) and ``agent`` (one agent: ``wandb.agent`` feeding the executor),
``fill`` (a grid's points without a finished run, run again as runs of the sweep),
``plan`` (a sweep checked and costed ahead), ``monitor`` and ``display`` (runs in
flight), ``summary`` (the end-of-sweep table), ``sync`` (uploading offline runs).
"""
