"""r2store's management commands, one module each."""
