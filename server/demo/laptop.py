"""What the demo's checkpoint laptop needs: a recorded camera video of the demo passes (for a machine without a
webcam) and a one-time enrolment code for the demo checkpoint (`scripts/demo.sh` enrols the screen with it; the
code carries the root key's fingerprint, which the laptop checks before pinning the root, as any laptop does).

The video is made from the passes just issued, so it verifies against this installation's keys: a committed
video would carry another installation's signatures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, select

from server.accounts.models import User
from server.checkpoints import service as checkpoints
from server.checkpoints.models import Checkpoint
from server.config import Settings
from server.demo.crossings import DEMO_CHECKPOINTS
from server.errors import NotFound

__all__ = ["SHOP_QR_TEXT", "VIDEO_FPS", "enrolment_code", "sheets", "video_unavailable", "write_video"]

VIDEO_FPS = 10.0
# A QR code that is not a pass, as a shop's or a health app's code held up by mistake: the screen must say so.
SHOP_QR_TEXT = "https://shop.example.cn/menu?table=12"


def video_unavailable() -> str | None:
    """Why the camera video cannot be made on this installation (OpenCV or numpy missing), or None."""
    try:
        from server.demo import frames  # noqa: F401
    except ImportError as err:
        return str(err)
    return None


def sheets(folder: Path) -> list[str]:
    """What a demo vehicle's driver holds up to the camera, one QR text a sheet: its pass (``pass.txt``) and, for
    a bus, each manifest page in order (``manifest.txt``, one page a line), so the screen shows bus mode."""
    texts = [(folder / "pass.txt").read_text(encoding="ascii").strip()]
    pages = folder / "manifest.txt"
    if pages.exists():  # by lines, not by spaces: a space is a Base45 character (never the last one)
        texts += [line.strip() for line in pages.read_text(encoding="ascii").splitlines() if line.strip()]
    return texts


def write_video(path: Path, pass_texts: Sequence[str], *, seed: int = 2020) -> Path:
    """The lane as a fixed camera sees it: each sheet (a pass or a manifest page) held up for 2.5 s, 4 s of empty
    lane between them. 2.5 s because the screen's camera loop decodes only the newest frame: a sheet shown for
    less may be read in no frame at all on a busy laptop (a bus's pages are bigger QR versions than a pass)."""
    # Imported here: OpenCV and the frame synthesis are needed only when the video is made.
    from server.demo.frames import make_sequence
    from server.demo.frames import write_video as write_frames

    frames = make_sequence([*pass_texts, SHOP_QR_TEXT], hold=25, gap=40, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_frames(frames, path, fps=VIDEO_FPS)


def enrolment_code(
    *, session: Session, settings: Settings, admin: str, now: datetime
) -> tuple[str, Checkpoint]:
    """A fresh one-time code for the first demo checkpoint, issued in the name of the demo administrator."""
    name = DEMO_CHECKPOINTS[0][0]
    checkpoint = session.exec(select(Checkpoint).where(Checkpoint.name == name)).first()
    user = session.exec(select(User).where(User.username == admin)).first()
    if checkpoint is None or user is None:
        raise NotFound(f"demo checkpoint {name!r} or account {admin!r} missing: run the demo seed first")
    code, _row = checkpoints.create_enrolment_code(
        session=session, checkpoint=checkpoint, user=user, settings=settings, now=now
    )
    return code, checkpoint
