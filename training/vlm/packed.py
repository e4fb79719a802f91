"""Several questions about one image in one decoder row, behind a shared image prefix.

    [system + "USER: "][image tokens][q1 + a1][q2 + a2]...

The shared part is causal as usual; each question segment sees the shared part and its
own earlier tokens only (a block-diagonal mask), and its position ids restart where the
image ends. Every segment is therefore trained exactly as if it were its own row with
the prompt the runtime builds, while the image tokens are computed once per scene, not
once per question.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from ..loupe_models.llama import LlamaDecoder
from ..tokenizer_bpe import IMAGE_ID, PAD_ID, ByteLevelBPE
from .data import IGNORE
from .labels import COLOURS, KINDS
from .model import attention_qkv
from .tokenizer import answer_ids, prompt_text

PAD_SEGMENT = -1


def split_prompt(tok: ByteLevelBPE, question: str) -> tuple[list[int], list[int]]:
    """(ids before `<image>`, ids after it) of the runtime's prompt for `question`."""
    ids = tok.encode(prompt_text(question))
    cut = ids.index(IMAGE_ID)
    return ids[:cut], ids[cut + 1 :]


def attribute_word(tok: ByteLevelBPE, token: int) -> str | None:
    """The shape, colour or "sign" a question token names ("stars" -> "star"), if any."""
    text = tok.decode([token]).strip().lower()
    for name in (text, text[:-2] if text.endswith("es") else text, text[:-1] if text.endswith("s") else text):
        if name in ATTRIBUTE_WORDS:
            return name
    return None


def pack_row(tok: ByteLevelBPE, num_image_tokens: int, qa: list[dict], attributes: dict | None = None,
             keep: list[int] | None = None) -> dict:
    """ids, segment ids, labels and position ids of one packed row, and the grounding
    probes: for each question with targets, the position that predicts its answer and the
    sequence positions of its target groups ("answer"); for each question word naming a
    shape or colour present in the scene, that word's position and the tokens holding
    such objects ("word").

    keep: the image tokens present in the row (sorted; default all). Dropped tokens leave
    the others at their own position ids, so the row is the full prompt with some
    background keys missing; the questions still start at the full image's end."""
    keep = list(range(num_image_tokens)) if keep is None else keep
    at = {c: i for i, c in enumerate(keep)}
    prefix: list[int] = []
    ids, seg, labels, probes, contents = [], [], [], [], []
    for k, item in enumerate(qa, start=1):
        before, after = split_prompt(tok, item["question"])
        if k == 1:
            prefix = before
            ids = before + [IMAGE_ID] * len(keep)
            seg = [0] * len(ids)
            labels = [IGNORE] * len(ids)
        elif before != prefix:
            raise ValueError("every question must share the prompt text before <image>")
        answer = answer_ids(tok, item["answer"])
        ids += after + answer
        seg += [k] * (len(after) + len(answer))
        labels += [IGNORE] * len(after) + answer
        start = len(ids) - len(answer) - len(after)
        answer_at = len(ids) - len(answer) - 1
        named = []  # positions of the question's own shape / colour / sign words (not the options)
        for j, token in enumerate(after):
            if j > 0 and tok.decode([token]) == "\n":
                break
            name = attribute_word(tok, token)
            if name is None:
                continue
            named.append(start + j)
            if attributes and name in attributes and any(c in at for c in attributes[name]):
                probes.append(("word", start + j, [[len(prefix) + at[c] for c in attributes[name] if c in at]]))
                found = set(attributes[name])
                contents.append((start + j, [int(bool(found & set(attributes.get(n, ())))) for n in ATTRIBUTE_LIST]))
        if named:
            relative = item.get("type", "").removeprefix("mc-") == "relative" and len(named) == 2
            probes.append(("parse", answer_at, [[named[0]], [named[1]]] if relative else [named]))
        groups = [[len(prefix) + at[c] for c in g if c in at] for g in item.get("targets") or [] if g]
        if groups and all(groups):
            probes.append(("answer", answer_at, groups))
    shared = len(prefix) + num_image_tokens
    pos = list(range(len(prefix))) + [len(prefix) + c for c in keep]
    for k in range(1, len(qa) + 1):
        pos += list(range(shared, shared + seg.count(k)))
    return {"ids": ids, "seg": seg, "labels": labels, "pos": pos, "probes": probes, "contents": contents}


def collate(rows: list[dict]) -> dict:
    width = max(len(r["ids"]) for r in rows)
    pad = lambda key, value: torch.tensor([r[key] + [value] * (width - len(r[key])) for r in rows], dtype=torch.long)  # noqa: E731
    return {"ids": pad("ids", PAD_ID), "seg": pad("seg", PAD_SEGMENT), "labels": pad("labels", IGNORE), "pos": pad("pos", 0),
            "probes": [(kind, b, q, groups) for b, r in enumerate(rows) for kind, q, groups in r.get("probes", [])],
            "contents": [(b, q, vec) for b, r in enumerate(rows) for q, vec in r.get("contents", [])]}


def allowed_mask(seg: torch.Tensor) -> torch.Tensor:
    """[B, 1, S, S]: causal, never a pad key, and across segments only into the shared part."""
    s = seg.shape[1]
    causal = torch.ones(s, s, dtype=torch.bool, device=seg.device).tril()
    key, query = seg[:, None, :], seg[:, :, None]
    same = (key == 0) | (key == query)
    return (causal[None] & same & (key != PAD_SEGMENT))[:, None]


def packed_hidden(decoder: LlamaDecoder, x: torch.Tensor, pos: torch.Tensor, allowed: torch.Tensor,
                  probes: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None):
    """The decoder's layers (same weights and maths as LlamaDecoder.forward without a
    cache) under an arbitrary mask and position ids. Returns the final hidden states and,
    for each layer in `probes`, the attention rows [P, heads, S] of its query positions
    (rows, positions)."""
    cfg = decoder.cfg
    freqs = pos[..., None].float() * decoder.inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)[:, None]
    cos, sin = emb.cos(), emb.sin()
    bias = torch.zeros(allowed.shape, dtype=x.dtype, device=x.device).masked_fill(~allowed, -1e9)
    probed: dict[int, torch.Tensor] = {}
    hidden: list[torch.Tensor] = []
    for index, layer in enumerate(decoder.layers):
        attn = layer.self_attn
        q, k, v = attention_qkv(layer, x, cos, sin)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(cfg.head_dim) + bias
        weights = torch.softmax(scores, dim=-1)
        if probes and index in probes:
            rows, positions = probes[index]
            probed[index] = weights[rows, :, positions]
        x = x + attn.o_proj((weights @ v).transpose(1, 2).flatten(2))
        x = x + layer.mlp(layer.post_attention_layernorm(x))
        hidden.append(x)
    return x, probed, hidden


# Grounding from the generator's ground truth, hop by hop. Layer 0: a question word that
# names a shape, colour or sign looks (heads 0 and 1) at the tokens holding such objects,
# which it can learn from its own embedding alone. Layer 1: the position that predicts the
# answer looks at those words (left/right: head 0 at A, head 1 at B), so it receives what
# they found. Layer 2: that position looks at the answer's own target tokens.
GROUNDING = {"word": (0,), "parse": (1,), "answer": (2,)}
GROUNDING_WEIGHT = 0.5
DEEP_SUPERVISION: tuple[int, ...] = (1, 2)  # layer indices whose output also predicts the answer
DEEP_WEIGHT = 0.5
ATTRIBUTE_WORDS = frozenset(KINDS) | frozenset(COLOURS)
ATTRIBUTE_LIST = tuple(KINDS) + tuple(COLOURS)
CONTENT_WEIGHT = 0.5


class ContentHead(torch.nn.Module):
    """Training only (never exported): from a question word's hidden state after layer 0,
    the shapes and colours of the objects that word found (multi-hot over ATTRIBUTE_LIST).
    Without it, what the word's attention reads from the image reaches the answer only
    through two more hops and the final cross-entropy, and was not learnt (a linear probe
    of the answer position stayed at chance after 400 steps, oracle image features)."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = torch.nn.LayerNorm(width)
        self.out = torch.nn.Linear(width, len(ATTRIBUTE_LIST))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.out(self.norm(h))


def grounding_probes(probes: list) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    by_layer: dict[int, list] = {}
    for kind, b, q, _ in probes:
        for layer in GROUNDING[kind]:
            by_layer.setdefault(layer, []).append((b, q))
    return {layer: (torch.tensor([b for b, _ in v]), torch.tensor([q for _, q in v])) for layer, v in by_layer.items()}


def grounding_loss(probed: dict[int, torch.Tensor], probes: list, heads: int = 2) -> tuple[torch.Tensor, dict[str, float]]:
    """Mean -log(attention mass on the right tokens) over probes and supervised heads, and
    the mean mass per probe kind (mass_word, mass_parse, mass_answer) for the log."""
    terms: dict[str, list[torch.Tensor]] = {}
    for layer, weights in probed.items():
        rows = [(kind, groups) for kind, _, _, groups in probes if layer in GROUNDING[kind]]
        for i, (kind, groups) in enumerate(rows):
            for h in range(heads):
                terms.setdefault(kind, []).append(weights[i, h, groups[h % len(groups)]].sum())
    # Each kind weighs the same: word probes outnumber answer probes several times, and the
    # answer hop (which needs the other two) would otherwise learn last.
    loss = torch.stack([-torch.log(torch.stack(m) + 1e-6).mean() for m in terms.values()]).mean()
    return loss, {f"mass_{kind}": float(torch.stack(m).mean()) for kind, m in terms.items()}


def packed_loss(model, batch: dict, image_rows: list[torch.Tensor], grounding: bool = True,
                content_head: ContentHead | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy on the answer tokens (+ eos) of every segment; image_rows[i] [N_i, D]
    are row i's projected image features, in order."""
    ids = batch["ids"]
    embeds = model.embed_tokens(ids)
    is_image = ids == IMAGE_ID
    embeds = embeds.masked_scatter(is_image[..., None].expand_as(embeds), torch.cat(image_rows).to(embeds.dtype))
    probes = batch.get("probes") or []
    x, probed, hidden = packed_hidden(model.decoder, embeds, batch["pos"], allowed_mask(batch["seg"]),
                                      grounding_probes(probes) if grounding and probes else None)
    targets = batch["labels"][:, 1:]
    keep = targets != IGNORE
    head = lambda h: model.decoder.lm_head(model.decoder.norm(h[:, :-1][keep]))  # noqa: E731
    logits = head(x)
    t = targets[keep]
    loss = F.cross_entropy(logits.float(), t)
    # The first answer token decides exact-match answers almost always (one-token answers).
    first = keep & ~torch.cat([torch.zeros_like(keep[:, :1]), keep[:, :-1]], dim=1)
    hits = (logits.argmax(-1) == t)[first[keep]]
    stats = {"answer_loss": float(loss), "answer_acc": float(hits.float().mean()) if hits.numel() else float("nan")}
    # Deep supervision: the answer also read (same norm and lm_head) from earlier layers, so
    # the value path image -> word -> answer position gets a short gradient of its own.
    for layer in DEEP_SUPERVISION:
        if layer < len(hidden) - 1:
            loss = loss + DEEP_WEIGHT * F.cross_entropy(head(hidden[layer]).float(), t)
    contents = batch.get("contents") or []
    if content_head is not None and contents:
        b = torch.tensor([c[0] for c in contents])
        q = torch.tensor([c[1] for c in contents])
        target = torch.tensor([c[2] for c in contents], dtype=torch.float32)
        logits_c = content_head(hidden[0][b, q])
        content = F.binary_cross_entropy_with_logits(logits_c, target)
        stats["content"] = float(content)
        stats["content_acc"] = float(((logits_c > 0).float() == target).all(-1).float().mean())
        loss = loss + CONTENT_WEIGHT * content
    if probed:
        ground, masses = grounding_loss(probed, probes)
        stats["grounding"] = float(ground)
        stats.update(masses)
        loss = loss + GROUNDING_WEIGHT * ground
    return loss, stats
