"""Progress lines for long stages: stage, step, losses, throughput, ETA, as text and as
JSON lines (the committed training log is made of the JSON)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class Progress:
    """Reports `step` of `total` for one stage; `elapsed_before` carries a resumed run's
    time so the ETA and the logged wall time cover the whole stage."""

    def __init__(self, stage: str, total: int, log: Path | None, unit: str = "steps", start_step: int = 0,
                 elapsed_before: float = 0.0):
        self.stage, self.total, self.unit = stage, total, unit
        self.log = log
        self.t0 = time.time() - elapsed_before
        self.start_step = start_step
        self.t_resume = time.time()
        self.window_t, self.window_items = time.time(), 0

    @property
    def elapsed(self) -> float:
        return time.time() - self.t0

    def update(self, step: int, items: int = 0, **values) -> dict:
        """items: samples processed since the last call (for the throughput)."""
        self.window_items += items
        now = time.time()
        done = step - self.start_step
        rate = done / max(1e-9, now - self.t_resume)
        eta = (self.total - step) / rate if rate > 0 else float("nan")
        per_s = self.window_items / max(1e-9, now - self.window_t)
        self.window_t, self.window_items = now, 0
        entry = {"stage": self.stage, "step": step, "total": self.total, **values,
                 "per_s": round(per_s, 2), "elapsed_s": round(self.elapsed, 1), "eta_s": round(eta, 1) if eta == eta else None}
        shown = " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items())
        print(f"[{self.stage}] {self.unit[:-1] if self.unit.endswith('s') else self.unit} {step}/{self.total} {shown} "
              f"{per_s:.1f}/s elapsed {clock(self.elapsed)} ETA {clock(eta) if eta == eta else '?'}", flush=True)
        self.write(entry)
        return entry

    def write(self, entry: dict) -> None:
        if self.log is not None:
            with open(self.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")


def say(message: str) -> None:
    print(message, file=sys.stdout, flush=True)
