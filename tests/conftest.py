"""Test-run settings shared by the whole suite."""

import os

from hypothesis import HealthCheck, settings

# Property tests run on shared CI machines: no per-example deadline (timing is measured in benchmarks/, never
# asserted), and a fixed derivation of examples so that a CI run is reproducible; set HYPOTHESIS_PROFILE=explore
# locally to search new examples.
settings.register_profile("ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
