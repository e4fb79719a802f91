"""Self-test: determinism, split disjointness, answer invariants, size conditions, balance.

    /usr/bin/python3 -m training.synth.selftest   # ~200 samples, well under a minute on 2 cores
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter

from . import colours, splits
from .checks import verify
from .questions import Question
from .sample import Sample, sample
from .sizes import classify

COUNTS = {"train": 80, "val": 40, "test-large": 40, "test-small-detail": 40}


def fingerprint(s: Sample) -> str:
    meta = json.dumps([[q.__dict__ for q in s.questions], [o.to_json() for o in s.objects], s.background], sort_keys=True)
    return hashlib.sha256(s.image.tobytes() + meta.encode()).hexdigest()


def check_sample(s: Sample) -> None:
    width, height = s.image.size
    assert 1500 <= max(width, height) <= 4000, f"long side {max(width, height)} outside 1500-4000"
    for qa in s.questions:
        verify(Question(qa.type, qa.question, qa.answer, qa.target_ids, qa.options, qa.asked), s.objects, width, height, s.condition)
        for x0, y0, x1, y1 in qa.target_bboxes:
            kind = next(o.kind for o in s.objects if o.bbox == (x0, y0, x1, y1))
            cls = classify(kind, x1 - x0, y1 - y0, width, height)
            fraction = (x1 - x0) * (y1 - y0) / (width * height)
            if s.condition == "small-detail":
                assert cls == "tiny" and fraction < 0.001, f"{qa.id}: target {x1 - x0}x{y1 - y0} is {cls} ({fraction:.5f})"
            if s.condition == "large":
                assert fraction > 0.01, f"{qa.id}: target covers only {fraction:.5f}"
        if qa.type.startswith("mc-"):
            assert qa.question.endswith(") " + qa.options[-1] + "\nAnswer with the option's letter from the given choices directly.")
    boxes = [o.bbox for o in s.objects]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], f"{s.split}[{s.index}]: objects overlap"


def main() -> None:
    started = time.perf_counter()
    distance, a, b = colours.min_centre_distance()
    assert distance > 80, f"colour centres {a} and {b} are only {distance:.0f} apart"

    # Disjoint seeds: distinct base seeds, indices below the stride (seed_for refuses others).
    bases = [split.base_seed for split in splits.SPLITS.values()]
    assert len(set(bases)) == len(bases), "two splits share a base seed"
    ranges = {n: (splits.seed_for(sp, 0), splits.seed_for(sp, (sp.size or splits.SEED_STRIDE) - 1)) for n, sp in splits.SPLITS.items()}
    spans = sorted(ranges.values())
    assert all(hi < lo for (_, hi), (lo, _) in zip(spans, spans[1:])), f"seed ranges overlap: {ranges}"

    types: dict[str, Counter] = {name: Counter() for name in COUNTS}
    answers: dict[str, Counter] = {name: Counter() for name in COUNTS}
    prints: dict[str, str] = {}
    seconds = []
    for name, count in COUNTS.items():
        for index in range(count):
            t = time.perf_counter()
            s = sample(name, index)
            seconds.append(time.perf_counter() - t)
            check_sample(s)
            print_ = fingerprint(s)
            assert print_ not in prints, f"{name}[{index}] repeats {prints[print_]}"
            prints[print_] = f"{name}[{index}]"
            for qa in s.questions:
                types[name][qa.type] += 1
                if qa.type in ("existence", "relative"):
                    answers[name][qa.answer] += 1
    for name, index in (("train", 3), ("test-small-detail", 5), ("test-large", 7), ("val", 11)):
        assert fingerprint(sample(name, index)) == fingerprint(sample(name, index)), f"{name}[{index}] is not deterministic"

    for name in ("test-large", "test-small-detail"):  # 40 = 5 full cycles of 7 types + 5
        assert max(types[name].values()) - min(types[name].values()) <= 1, f"{name} types unbalanced: {types[name]}"
        assert abs(answers[name]["yes"] - answers[name]["no"]) <= 1, f"{name} yes/no unbalanced: {answers[name]}"
    train = types["train"]
    expected = sum(train.values()) / len(splits.TYPES)
    assert all(0.6 * expected <= train[t] <= 1.4 * expected for t in splits.TYPES), f"train types unbalanced: {train}"
    for pair in (("yes", "no"), ("left", "right")):
        n = answers["train"][pair[0]] + answers["train"][pair[1]]
        assert abs(answers["train"][pair[0]] - n / 2) <= 0.2 * n, f"train {pair} unbalanced: {answers['train']}"

    mean_ms = 1000 * sum(seconds) / len(seconds)
    print(f"selftest passed: {len(seconds)} samples, {sum(sum(c.values()) for c in types.values())} questions, "
          f"{mean_ms:.0f} ms per sample (max {1000 * max(seconds):.0f}), {time.perf_counter() - started:.1f} s in all")
    for name in COUNTS:
        print(f"  {name}: {dict(sorted(types[name].items()))} {dict(answers[name])}")


if __name__ == "__main__":
    main()
