"""The HTTP side: thin routes that authenticate, validate, call the store and answer."""
