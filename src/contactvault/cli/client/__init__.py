"""Client commands: they talk to the API through the SDK only, so they need just the ``cli`` extra."""
