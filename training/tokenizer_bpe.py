"""Byte-level BPE: a small deterministic trainer, an encoder/decoder that matches
transformers.js token for token, and writers for `tokenizer.json` / `tokenizer_config.json`.

The encoder has to agree with transformers.js exactly because the golden prompt ids
are produced here and compared with what the browser tokenizes.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from .corpus import SYSTEM_PROMPT

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<image>"]
PAD_ID, BOS_ID, EOS_ID, IMAGE_ID = 0, 1, 2, 3
NUM_BYTE_TOKENS = 256

# Only explicit ASCII classes: `\s` differs between Python `re` and JS `/u` regexes
# (e.g. U+001C..U+001F, U+0085, U+FEFF), so whitespace is spelled out.
_WS = "\\t\\n\\x0b\\x0c\\r "
PRE_TOKENIZER_PATTERN = (
    f" ?[A-Za-z]+| ?[0-9]| ?[^{_WS}A-Za-z0-9]+|[{_WS}]+(?![^{_WS}])|[{_WS}]+"
)
_PRE_TOKEN_RE = re.compile(PRE_TOKENIZER_PATTERN)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (so tokens hold no raw
    control bytes or spaces, and merges can be written as "a b")."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("\u00a1"), ord("\u00ac") + 1))
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    )
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def pre_tokenize(text: str) -> list[str]:
    """Split like the `Split(Isolated)` + `ByteLevel(use_regex=false)` pre-tokenizer pair.

    The pattern matches every character, so `findall` equals an isolated split."""
    return ["".join(BYTE_TO_CHAR[b] for b in piece.encode("utf-8")) for piece in _PRE_TOKEN_RE.findall(text)]


def train_merges(corpus: str, num_merges: int, base_vocab: set[str]) -> list[tuple[str, str]]:
    """Classic BPE training. Ties are broken by the pair itself so the result never
    depends on dict ordering; pairs whose concatenation already exists are skipped so
    every merge adds exactly one new vocab entry."""
    words = Counter(tuple(piece) for piece in pre_tokenize(corpus))
    vocab = set(base_vocab)
    merges: list[tuple[str, str]] = []
    while len(merges) < num_merges:
        pair_counts: Counter[tuple[str, str]] = Counter()
        for word, freq in words.items():
            for pair in zip(word, word[1:]):
                pair_counts[pair] += freq
        candidates = [(-count, pair) for pair, count in pair_counts.items() if pair[0] + pair[1] not in vocab]
        if not candidates:
            raise RuntimeError(f"corpus too small: only {len(merges)} merges possible, need {num_merges}")
        _, best = min(candidates)
        merges.append(best)
        vocab.add(best[0] + best[1])
        words = Counter({_merge_pair(word, best): freq for word, freq in words.items()})
    return merges


def _merge_pair(word: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out: list[str] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


@dataclass
class ByteLevelBPE:
    vocab: dict[str, int]
    merges: list[tuple[str, str]]
    # Added tokens: split out before BPE, never merged. Other families (Qwen2's ChatML
    # markers) pass their own and put them after the merges, where their ids live.
    special_tokens: tuple[str, ...] = tuple(SPECIAL_TOKENS)

    @classmethod
    def train(
        cls, corpus: str, vocab_size: int, special_tokens: tuple[str, ...] = tuple(SPECIAL_TOKENS), specials_last: bool = False
    ) -> "ByteLevelBPE":
        byte_chars = [BYTE_TO_CHAR[b] for b in range(NUM_BYTE_TOKENS)]
        num_merges = vocab_size - len(special_tokens) - NUM_BYTE_TOKENS
        merges = train_merges(corpus, num_merges, set(byte_chars))
        learned = byte_chars + [a + b for a, b in merges]
        tokens = learned + list(special_tokens) if specials_last else list(special_tokens) + learned
        return cls(vocab={t: i for i, t in enumerate(tokens)}, merges=merges, special_tokens=tuple(special_tokens))

    @property
    def id_to_token(self) -> list[str]:
        return sorted(self.vocab, key=self.vocab.__getitem__)

    def _bpe(self, word: str) -> list[str]:
        # Merge the lowest-ranked adjacent pair, leftmost first, one at a time: the
        # same order transformers.js' priority queue (rank + position bias) produces.
        ranks = self._ranks
        parts = list(word)
        while len(parts) > 1:
            best = None
            for i in range(len(parts) - 1):
                rank = ranks.get((parts[i], parts[i + 1]))
                if rank is not None and (best is None or rank < best[0]):
                    best = (rank, i)
            if best is None:
                break
            i = best[1]
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        return parts

    @property
    def _ranks(self) -> dict[tuple[str, str], int]:
        if not hasattr(self, "_rank_cache"):
            self._rank_cache = {pair: i for i, pair in enumerate(self.merges)}
        return self._rank_cache

    def encode(self, text: str) -> list[int]:
        """Added tokens are split out first (they are never merged or byte-mapped)."""
        specials = self.special_tokens
        special_re = "(" + "|".join(re.escape(t) for t in sorted(specials, key=len, reverse=True)) + ")"
        ids: list[int] = []
        for segment in re.split(special_re, text):
            if segment in specials:
                ids.append(self.vocab[segment])
                continue
            for word in pre_tokenize(segment):
                ids.extend(self.vocab[t] for t in self._bpe(word))
        return ids

    def decode(self, ids: list[int]) -> str:
        tokens = self.id_to_token
        out: list[str] = []
        pending = bytearray()
        for i in ids:
            token = tokens[i]
            if token in self.special_tokens:
                out.append(pending.decode("utf-8", errors="replace"))
                pending.clear()
                out.append(token)
            else:
                pending.extend(CHAR_TO_BYTE[c] for c in token)
        out.append(pending.decode("utf-8", errors="replace"))
        return "".join(out)

    def tokenizer_json(self) -> dict:
        added = [
            {
                "id": self.vocab[t],
                "content": t,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for t in self.special_tokens
        ]
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": None,
            "pre_tokenizer": {
                "type": "Sequence",
                "pretokenizers": [
                    {
                        "type": "Split",
                        "pattern": {"Regex": PRE_TOKENIZER_PATTERN},
                        "behavior": "Isolated",
                        "invert": False,
                    },
                    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
                ],
            },
            "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
            "model": {
                "type": "BPE",
                "dropout": None,
                "unk_token": None,
                "continuing_subword_prefix": None,
                "end_of_word_suffix": None,
                "fuse_unk": False,
                "byte_fallback": False,
                "ignore_merges": False,
                "vocab": self.vocab,
                "merges": [f"{a} {b}" for a, b in self.merges],
            },
        }


# vicuna_v1 conversation format. Kept in one place with `render_vicuna_prompt`, which
# is the Python twin of this template (there is no jinja2 here); the Node verifier
# checks that transformers.js renders the template to the same string.
CHAT_TEMPLATE = (
    "{{ bos_token }}" + SYSTEM_PROMPT + " "
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}USER: {{ message['content'] }} "
    "{% elif message['role'] == 'assistant' %}ASSISTANT: {{ message['content'] }}{{ eos_token }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def render_vicuna_prompt(messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
    text = SPECIAL_TOKENS[BOS_ID] + SYSTEM_PROMPT + " "
    for message in messages:
        if message["role"] == "user":
            text += f"USER: {message['content']} "
        elif message["role"] == "assistant":
            text += f"ASSISTANT: {message['content']}{SPECIAL_TOKENS[EOS_ID]}"
    if add_generation_prompt:
        text += "ASSISTANT:"
    return text


def tokenizer_config(model_max_length: int) -> dict:
    return {
        "tokenizer_class": "PreTrainedTokenizer",
        "bos_token": SPECIAL_TOKENS[BOS_ID],
        "eos_token": SPECIAL_TOKENS[EOS_ID],
        "pad_token": SPECIAL_TOKENS[PAD_ID],
        "unk_token": None,
        "add_bos_token": False,
        "add_eos_token": False,
        # transformers.js defaults this to true, which rewrites " ." to "." on decode
        # and breaks the decode(encode(x)) == x round trip.
        "clean_up_tokenization_spaces": False,
        "model_max_length": model_max_length,
        "added_tokens_decoder": {
            str(i): {
                "content": t,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            }
            for i, t in enumerate(SPECIAL_TOKENS)
        },
        "chat_template": CHAT_TEMPLATE,
    }
