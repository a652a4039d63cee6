from policyqa.cli import main

main()
