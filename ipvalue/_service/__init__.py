"""Implementation of the HTTP service (:mod:`ipvalue.service` is the public entry point)."""
