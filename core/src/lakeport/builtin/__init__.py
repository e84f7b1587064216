"""Plugins that ship with the core, registered exactly like third-party ones.

Each module holds only hook implementations and imports nothing heavy.
"""
