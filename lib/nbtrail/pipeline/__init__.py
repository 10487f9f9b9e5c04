"""Pipeline layer: config, parameters, fingerprints, kernels, the runner, summary, reproduce."""
