"""hilsim's face: the command line. Nothing imports this package; it wires the others."""
