"""Test doubles for the provider clients, which the package never uses by default."""
