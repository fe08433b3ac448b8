"""The commands of ``hilsim`` (one module per command group), registered by ``hilsim.cli``."""
