"""What every worker needs loaded, imported once by the fork server the workers are forked from
(``sda.engine.parallel._fork_workers_from_a_server``), never by the caller: the engine and its
compiled kernels. Each worker then starts with them in memory instead of importing and loading
them itself (about 1.1 s of CPU a worker).

The server lets go of the caller's standard streams first (pointed at the null device, as every
worker does): it would otherwise hold a killed run's pipes open, and whatever it or a child it
is forking prints when the run stops mid-start would land on the run's terminal.
"""

import gc

from sda.engine.parallel import let_go_of_standard_streams

let_go_of_standard_streams()

from sda.engine.search import preload_kernels  # noqa: E402  (after the streams are let go)

preload_kernels()
gc.freeze()  # the forked workers inherit the frozen generation: their collections skip all this
