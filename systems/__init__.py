"""The systems the harness ships, one module each; see ``harness.registry``."""
