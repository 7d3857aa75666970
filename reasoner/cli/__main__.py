from reasoner.cli.main import main

main()
