"""Django settings, split by purpose: ``base`` reads the environment, ``test`` tunes it for pytest."""
