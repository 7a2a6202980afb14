"""Root of the test suite: the personas every test file can use.

The demo-like agency ``acme`` has HQ, a branch ``north`` (teams ``n1``, ``n2``) and a branch
``south`` (team ``s1``); two clients ``bank_a`` and ``bank_b``. Another agency ``rival`` must
never be visible to anyone at ``acme``.
"""

pytest_plugins = ["tests.fixtures"]
