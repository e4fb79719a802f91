"""The Loupe-Synth tokenizer: the repo's byte-level BPE (tokenizer_bpe.py, the encoder
that matches transformers.js) trained on what the scene generator can say, so colours,
shapes and sign words become single tokens; `<image>` and the vicuna_v1 template are
exactly the tiny bundle's."""

from __future__ import annotations

import json
from pathlib import Path

from ..corpus import SYSTEM_PROMPT
from ..tokenizer_bpe import EOS_ID, IMAGE_ID, SPECIAL_TOKENS, ByteLevelBPE, render_vicuna_prompt

# Largest first; the first size the corpus supports wins (a BPE cannot have more merges
# than the corpus has distinct pairs to merge).
VOCAB_SIZES = (1024, 896, 768, 640, 512, 384)
CORPUS_REPEATS = 3


def training_corpus(texts: list[str]) -> str:
    chat = render_vicuna_prompt(
        [{"role": "user", "content": "question"}, {"role": "assistant", "content": "answer"}], add_generation_prompt=True
    ).replace(SPECIAL_TOKENS[1], "").replace(SPECIAL_TOKENS[2], " ")
    return "\n".join(([SYSTEM_PROMPT, chat] + list(texts)) * CORPUS_REPEATS)


def build_tokenizer(texts: list[str], vocab_sizes: tuple[int, ...] = VOCAB_SIZES) -> ByteLevelBPE:
    corpus = training_corpus(texts)
    for size in vocab_sizes:
        try:
            return ByteLevelBPE.train(corpus, size)
        except RuntimeError:
            continue
    raise RuntimeError(f"corpus too small for any vocab size in {vocab_sizes}")


def save_tokenizer(tok: ByteLevelBPE, path: Path) -> None:
    path.write_text(json.dumps(tok.tokenizer_json(), ensure_ascii=False), encoding="utf-8")


def load_tokenizer(path: Path) -> ByteLevelBPE:
    model = json.loads(Path(path).read_text(encoding="utf-8"))["model"]
    return ByteLevelBPE(vocab=model["vocab"], merges=[tuple(m.split(" ")) for m in model["merges"]])


def prompt_text(question: str) -> str:
    return render_vicuna_prompt([{"role": "user", "content": f"<image>\n{question}"}])


def prompt_ids(tok: ByteLevelBPE, question: str, num_image_tokens: int) -> list[int]:
    """The prompt with `<image>` repeated once per visual token (as the runtime feeds it)."""
    out: list[int] = []
    for i in tok.encode(prompt_text(question)):
        out.extend([i] * num_image_tokens if i == IMAGE_ID else [i])
    return out


def answer_ids(tok: ByteLevelBPE, answer: str) -> list[int]:
    """What follows "ASSISTANT:" in the template: " {answer}</s>". The pre-tokenizer
    never joins across the ':' / ' ' boundary, so encoding it separately gives the same
    ids as encoding the whole conversation."""
    return tok.encode(" " + answer) + [EOS_ID]
