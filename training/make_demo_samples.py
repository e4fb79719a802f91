"""The demo's sample scenes: held-out Loupe-Synth scenes at their real resolution, with
questions and their ground-truth answers, so the page can show the model's answer beside
the truth, right or wrong.

    /usr/bin/python3 -m training.make_demo_samples      # from the repo root, ~5 s

Writes public/samples/scene-*.jpg (JPEG q90, 4:4:4 chroma: a 10 px target keeps its
colour) and public/samples/samples.json. Scenes come from the held-out test splits (never
trained on); each keeps its own question and gains up to two more from its ground truth
(training/vlm/derived.py, whose answers `synth.checks` verifies). Deterministic.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from .synth import sample
from .vlm.data import question_text
from .vlm.derived import derived_questions

OUT = Path(__file__).resolve().parents[1] / "public" / "samples"
# (split, how many): small-detail scenes show what resolution buys; one large for contrast.
PICKS = (("test-small-detail", 2), ("test-large", 1))
LONG_SIDE = (2000, 3200)  # real high-resolution photos, but a few MB at most


def pick(split: str, count: int) -> list:
    chosen, seen_types = [], set()
    for index in range(700):
        s = sample(split, index)
        q = s.questions[0]
        if not LONG_SIDE[0] <= max(s.image.size) <= LONG_SIDE[1] or q.type.startswith("mc-") or q.type in seen_types:
            continue
        chosen.append(s)
        seen_types.add(q.type)
        if len(chosen) == count:
            break
    return chosen


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("scene-*.jpg"):
        old.unlink()
    entries = []
    for split, count in PICKS:
        for s in pick(split, count):
            name = f"scene-{split.removeprefix('test-')}-{s.index}.jpg"
            s.image.save(OUT / name, "JPEG", quality=90, subsampling=0)
            own = s.questions[0]
            questions = [{"question": question_text(own), "answer": own.answer, "type": own.type}]
            types = {own.type}
            for q in derived_questions(s.objects, s.image.width, random.Random(s.index), 12):
                if q.type not in types and not q.type.startswith("mc-") and len(questions) < 3:
                    types.add(q.type)
                    questions.append({"question": question_text(q), "answer": q.answer, "type": q.type})
            entries.append({"file": name, "width": s.image.width, "height": s.image.height, "split": split, "index": s.index,
                            "condition": s.condition, "questions": questions})
            print(f"{name}: {s.image.size[0]}x{s.image.size[1]}, {(OUT / name).stat().st_size / 2**20:.2f} MB, "
                  f"{[q['question'] for q in questions]}")
    (OUT / "samples.json").write_text(json.dumps({"version": s.version, "scenes": entries}, indent=1) + "\n")


if __name__ == "__main__":
    main()
