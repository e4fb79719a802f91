"""A SentencePiece BPE `tokenizer.model` (Llama / Vicuna) -> the `tokenizer.json` that
transformers.js reads, as HF's LlamaConverter writes it (legacy Llama): the pieces as a
BPE vocabulary with byte fallback, merges ranked by the merged piece's score, a "▁"
prepended and spaces replaced by "▁", and the decoder that undoes it. `added` tokens
(e.g. `<image>`) are appended after the SentencePiece ids.
"""

from __future__ import annotations

import sentencepiece as spm

CONTROL, UNKNOWN, BYTE = 3, 2, 6  # sentencepiece ModelProto.SentencePiece.Type


def _added(id_: int, content: str) -> dict:
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}


def tokenizer_json(model_path: str, added: list[str]) -> dict:
    sp = spm.SentencePieceProcessor(model_file=model_path)
    size = sp.get_piece_size()
    vocab = {sp.id_to_piece(i): i for i in range(size)}
    scores = {sp.id_to_piece(i): sp.get_score(i) for i in range(size)}
    merges: list[tuple[str, str, float]] = []
    for piece, score in scores.items():
        local = [(piece[:k], piece[k:], score) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
        merges.extend(sorted(local, key=lambda m: (vocab[m[0]], vocab[m[1]])))
    merges.sort(key=lambda m: m[2], reverse=True)
    specials = [i for i in range(size) if sp.is_control(i) or sp.is_unknown(i)]
    bos = sp.id_to_piece(sp.bos_id())
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_added(i, sp.id_to_piece(i)) for i in specials] + [_added(size + k, t) for k, t in enumerate(added)],
        "normalizer": {
            "type": "Sequence",
            "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}],
        },
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [
                {"SpecialToken": {"id": bos, "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": bos, "type_id": 1}},
                {"Sequence": {"id": "B", "type_id": 1}},
            ],
            "special_tokens": {bos: {"id": bos, "ids": [sp.bos_id()], "tokens": [bos]}},
        },
        "decoder": {
            "type": "Sequence",
            "decoders": [
                {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                {"type": "ByteFallback"},
                {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0},
            ],
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": sp.id_to_piece(sp.unk_id()),
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": True,
            "ignore_merges": False,
            "vocab": {**vocab, **{t: size + k for k, t in enumerate(added)}},
            "merges": [[a, b] for a, b, _ in merges],
        },
    }
