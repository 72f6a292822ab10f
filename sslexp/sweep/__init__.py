"""W&B sweeps for sslexp, offline and online.

Offline, the PyPI ``sweeps`` engine (the one the W&B server runs) proposes each
next run from the sweep YAML and the runs so far, and local workers execute the
YAML's ``command`` exactly as a ``wandb agent`` would, keeping a ledger on disk
so an interrupted sweep resumes. Online, ``wandb sweep`` creates the sweep and
one ``wandb agent`` per GPU runs it.

Modules: ``config`` (load and validate a sweep YAML, enumerate its grid),
``engine`` (ask the engine for the next run), ``ledger`` (the sweep directory's
run table), ``liveness`` (is a recorded process still alive), ``command``
(agent-style command line and environment), ``outcome`` (what a finished
subprocess means), ``local`` (workers), ``summary`` (the end-of-sweep table),
``wandb_cli`` (finding and running the ``wandb`` executable), ``online``,
``agents`` and ``sync``.
"""
