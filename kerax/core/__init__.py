"""The state core of kerax: imports only jax, numpy and the standard library."""
