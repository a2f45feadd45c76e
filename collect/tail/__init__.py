"""`collect tail`: read the activity stream and show it.

reader     lines from a file, a pipe, or a file followed like `tail -F`
stream     one line → an event dict, or garbage
filters    --worker, --phase, --action, --errors, --since
fold       the per-event counters, in bounded memory
snapshot   the immutable picture computed from the fold (clock injected)
plain      one readable line per event
summary    the --summary report, text or JSON
dashboard  drawing a snapshot with rich; live: the redraw loop
command    the click command, `tail_command`
synthetic  simulated streams for tests, benchmarks and demos
"""
