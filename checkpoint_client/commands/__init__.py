"""The `checkpoint` subcommands that need more than a few lines, one module each.

Each module adds its commands to ``checkpoint_client.cli.app`` when imported; ``cli`` imports every module here.
"""
