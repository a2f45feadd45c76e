"""The sandbox: a local simulator of the Oxylabs realtime API, so `collect` runs end to
end with no credentials and tests never touch the network.

`synth` makes the data, `faults` decides the misbehaviour, `replay` serves recordings,
`server` puts it all on HTTP at 127.0.0.1.
"""

from collect.sandbox.server import (
    SandboxConfig,
    SandboxHandle,
    sandbox_process_main,
    serve_forever,
    start_sandbox,
)

__all__ = [
    "SandboxConfig",
    "SandboxHandle",
    "sandbox_process_main",
    "serve_forever",
    "start_sandbox",
]
