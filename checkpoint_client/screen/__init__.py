"""The officer's screen (`checkpoint run`): a local web page on 127.0.0.1, opened in the laptop's browser."""

from checkpoint_client.screen.app import Screen, create_app
from checkpoint_client.screen.desk import ScanDesk

__all__ = ["ScanDesk", "Screen", "create_app"]
