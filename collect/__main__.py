from collect.cli import main

main()
