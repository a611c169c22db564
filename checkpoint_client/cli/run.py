"""`checkpoint run`: the officer's screen, served to this laptop's browser on 127.0.0.1 only.

The screen starts whatever is missing — no camera (a handheld scanner or the paste field still work), no trust
bundle (the page says how to get one), no network (decisions wait in the local store) — and says so on screen.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
import webbrowser
from typing import Annotated, Any

import typer
import uvicorn

from checkpoint_client.cli.plumbing import fail
from checkpoint_client.config import get_settings
from passcore.errors import CheckpassError, InputError

__all__ = ["app"]

HOST = "127.0.0.1"  # never another address: the screen holds personal data and records decisions
DEFAULT_FILE_FPS = 10.0  # a video or folder is played like a webcam, so scans arrive as they would live

app = typer.Typer()


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_exit: Any) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._on_exit()  # end the page's event streams first, or the server waits for them
        super().handle_exit(sig, frame)


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as err:
        sock.close()
        fail(f"cannot listen on {HOST}:{port} ({err.strerror}): is the screen already running? try --port")
    sock.listen(16)
    sock.set_inheritable(True)
    return sock


def _open_browser(server: uvicorn.Server, url: str) -> None:
    for _ in range(200):
        if server.started:
            webbrowser.open(url)
            return
        time.sleep(0.05)


@app.command()
def run(
    source: Annotated[
        str,
        typer.Option(
            "--source", help="Webcam index (0, 1 …), a video file or a folder of images; 'none': no camera."
        ),
    ] = "0",
    decoder: Annotated[
        str, typer.Option("--decoder", help="QR decoder: zxing (default) or pyzbar.")
    ] = "zxing",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free one).")
    ] = 8700,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open the browser.")] = False,
    lang: Annotated[str | None, typer.Option("--lang", help="Screen language: zh (default) or en.")] = None,
    fps: Annotated[
        float | None,
        typer.Option("--fps", min=0.5, max=120, help="Play a video or folder at this rate (default 10)."),
    ] = None,
    loop: Annotated[
        bool, typer.Option("--loop", help="Restart a video or folder at its end (demo).")
    ] = False,
) -> None:
    """Open the officer's screen: live camera, pass check, temperatures, decision, escorts."""
    from checkpoint_client.decoding import CameraLoop, Decoder
    from checkpoint_client.frames import open_source
    from checkpoint_client.screen import ScanDesk, create_app
    from checkpoint_client.store import Store

    if lang not in (None, "zh", "en"):
        fail(f"--lang {lang!r}: choose zh or en")
    settings = get_settings()
    chosen = Decoder(decoder)  # an unknown or unavailable backend is bad input: refuse before starting
    sock = _bind(port)
    store = Store.open(settings.store_path)
    desk = ScanDesk()
    camera, frames, camera_error = None, None, None
    if source.strip().lower() != "none":
        try:
            webcam = source.strip().isdigit()  # a webcam keeps its own pace; files are paced like one
            frames = open_source(source, fps=fps or (None if webcam else DEFAULT_FILE_FPS), loop=loop)
            camera = CameraLoop(frames, chosen, on_scan=desk.on_scan, on_seen=desk.seen)
        except InputError as err:  # no webcam here: the screen still works with a handheld scanner
            camera_error = err.message
            typer.echo(f"checkpoint: warning: {err.message} — the screen starts without a camera", err=True)
    try:
        screen_app = create_app(settings, store, camera, desk=desk, lang=lang, camera_error=camera_error)
        config = uvicorn.Config(
            screen_app, log_level="warning", access_log=False, timeout_graceful_shutdown=2, lifespan="on"
        )
        server = _Server(config, on_exit=desk.close)
        url = f"http://{HOST}:{sock.getsockname()[1]}/"
        typer.echo(f"officer's screen: {url}   (Ctrl+C stops it)")
        if camera is not None:
            camera.start()
        if not no_browser:
            threading.Thread(target=_open_browser, args=(server, url), daemon=True).start()
        # uvicorn shuts down on SIGINT/SIGTERM, then re-raises the signal into the handlers it found; harmless
        # ones here let the clean-up below run (camera released, store closed) and the command exit with 0.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)
        server.run(sockets=[sock])
    except CheckpassError as err:
        fail(err.message)
    finally:
        if camera is not None:
            camera.stop()
        if frames is not None:
            frames.close()
        store.close()
        sock.close()
