from sslexp.cli import main

main()
