"""Endpoints: the engines the console manages, the one client layer that reaches them, and their health."""
