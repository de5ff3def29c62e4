"""The apps the integration tests serve: one process per server runs every proxy variant."""
