from mailctl.cli.root import main

main()
