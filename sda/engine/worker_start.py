"""What every worker needs loaded, imported once by the fork server the workers are forked from
(``sda.engine.parallel._fork_workers_from_a_server``), never by the caller: the engine and its
compiled kernels (``parallel.load_engine``, what a worker started otherwise runs itself). Each
worker then starts with them in memory instead of importing and loading them itself (about
1.1 s of CPU a worker).

The server lets go of the caller's standard streams first (pointed at the null device, as every
worker does): it would otherwise hold a killed run's pipes open, and whatever it or a child it
is forking prints when the run stops mid-start would land on the run's terminal.
"""

from sda.engine.parallel import let_go_of_standard_streams, load_engine

let_go_of_standard_streams()
load_engine()  # the forked workers inherit the loaded kernels and the frozen generation
