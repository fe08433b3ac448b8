"""hilsim's face: the command line, the live processes' wiring and the one process helper.

Nothing imports this package (but tests); it may import every other package.
"""
