from hilsim.cli import main

main()
