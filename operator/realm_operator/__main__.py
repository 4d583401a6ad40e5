"""`python -m realm_operator`: run the operator (see `realm_operator.main`)."""

from realm_operator.main import main

main()
