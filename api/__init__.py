"""How people and scripts use huiqi: the ``huiqi`` command line and the HTTP service."""
