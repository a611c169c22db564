"""`checkpoint scan --source (INDEX | VIDEO | FOLDER) [--bundle FILE] [--decoder zxing|pyzbar] --json`.

One line per pass read (docs/design.md, "Contracts"): ``source`` (the file name, or the frame number of a video or a
camera), ``valid``, ``pass_id``, ``reasons`` (each ``code`` and ``message``), then ``kid``, the ``claims`` and
``unknown_claims`` (the keys of claims this version skipped; see docs/pass-format.md).
A QR code that is not a pass gets a line with valid=false and the reason. Every image of a folder is its own
photograph; in a video or from a camera a pass held up for many frames is one line.
Each line says its ``kind``: "pass", or "manifest_page" for a bus's manifest page (``CPM1:``), whose line has
``page`` ("3/5"), ``number``, ``pages`` and the page's ``passengers`` (masked ID numbers) instead of claims.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from checkpoint_client import station
from checkpoint_client.cli.plumbing import BundleOption, DecoderOption, JsonFlag, fail, load_bundle, now
from checkpoint_client.config import get_settings
from passcore import manifest, trust

if TYPE_CHECKING:  # OpenCV and the decoders load only when a scan runs: every other command starts faster
    from checkpoint_client.decoding import Decoder
    from checkpoint_client.frames import FrameSource

__all__ = ["app"]

app = typer.Typer()

REPEAT_AFTER_S = 3.0


class _Printer:
    def __init__(self, bundle: trust.TrustBundle, as_json: bool) -> None:
        self.bundle, self.as_json, self.count = bundle, as_json, 0

    def __call__(self, source: str | int, text: str) -> None:
        if station.is_manifest_page(text):
            self._page(source, text)
            return
        moment = now()
        report = station.verification_json(
            trust.verify_pass(text.strip(), self.bundle, now=moment), self.bundle, at=moment, now=moment
        )
        self.count += 1
        if self.as_json:
            line: dict[str, Any] = {"source": source, "kind": "pass"} | {
                k: report[k] for k in ("valid", "pass_id", "reasons", "kid", "claims", "unknown_claims")
            }
            typer.echo(json.dumps(line, ensure_ascii=False))
        elif report["valid"]:
            claims = report["claims"]
            typer.echo(f"{source}  VALID  {claims['serial']}  {claims['plate']}  {claims['driver']['name']}")
        else:
            reason = report["reasons"][0]
            typer.echo(f"{source}  INVALID  {reason['code']}: {reason['message']}")

    def _page(self, source: str | int, text: str) -> None:
        moment = now()
        page = manifest.verify_page(text.strip(), self.bundle, now=moment)
        report = station.page_json(page, self.bundle, at=moment, now=moment)
        self.count += 1
        if self.as_json:
            keys = (
                "kind",
                "valid",
                "pass_id",
                "reasons",
                "kid",
                "page",
                "number",
                "pages",
                "first",
                "manifest",
            )
            line = {"source": source} | {k: report[k] for k in (*keys, "passengers", "unknown_claims")}
            typer.echo(json.dumps(line, ensure_ascii=False))
        elif page.valid:
            typer.echo(f"{source}  VALID  manifest page {page.label}  pass {page.pass_id}")
        else:
            typer.echo(f"{source}  INVALID  {page.code}: {page.message}")


def _note_skipped(source: FrameSource, reported: int) -> int:
    for name, why in source.skipped[reported:]:
        typer.echo(f"checkpoint: note: skipped {name}: {why}", err=True)
    return len(source.skipped)


def _scan_files(source: FrameSource, decoder: Decoder, emit: _Printer) -> int:
    """Every frame of a file source, in order; a video's repeats are judged by its own clock."""
    from checkpoint_client.decoding import Repeats

    repeats = Repeats(REPEAT_AFTER_S) if source.kind == "video" else None
    frames = reported = 0
    for frame in source:
        frames += 1
        texts = decoder.decode(frame.image).texts
        fresh = repeats.new(texts, frame.index / source.fps) if repeats else list(dict.fromkeys(texts))
        for text in fresh:
            emit(frame.name if source.kind == "folder" else frame.index, text)
        reported = _note_skipped(source, reported)
    return frames


def _scan_camera(source: FrameSource, decoder: Decoder, emit: _Printer) -> int:
    from checkpoint_client.decoding import CameraLoop

    loop = CameraLoop(source, decoder, lambda s: emit(s.frame_index, s.text), repeat_after_s=REPEAT_AFTER_S)
    loop.start()
    try:
        while not loop.wait(0.5):
            pass
    except KeyboardInterrupt:  # the officer's way to stop a camera scan
        pass
    finally:
        loop.stop()
    status = loop.status()
    if status["error"]:
        fail(status["error"])
    return status["frames"]


@app.command()
def scan(
    source: Annotated[
        str, typer.Option("--source", help="A webcam index (0, 1…), a video file or a folder of images.")
    ],
    bundle: BundleOption = None,
    decoder: DecoderOption = "zxing",
    as_json: JsonFlag = False,
) -> None:
    """Read passes and manifest pages from a camera, a video or a folder of images and verify each (Ctrl-C stops
    a camera)."""
    from checkpoint_client.decoding import BACKENDS, Decoder
    from checkpoint_client.frames import open_source

    if decoder not in BACKENDS:
        fail(f"unknown decoder {decoder!r}: choose {' or '.join(BACKENDS)}")
    trusted = load_bundle(get_settings(), bundle, now())
    reader = Decoder(decoder)
    emit = _Printer(trusted, as_json)
    with open_source(source) as frames:
        scan_all = _scan_camera if frames.realtime else _scan_files
        count = scan_all(frames, reader, emit)
    if emit.count == 0:
        typer.echo(f"checkpoint: note: no QR code read in {count} frame(s) of {source}", err=True)
