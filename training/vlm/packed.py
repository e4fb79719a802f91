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
from ..synth.questions import LETTERS
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


def option_lines(tok: ByteLevelBPE, after: list[int]) -> list[tuple[int, int]]:
    """(letter, last option-text token) offsets in `after` of each "(A) text" line."""
    texts = [tok.decode([t]) for t in after]
    out = []
    for j in range(len(texts) - 3):
        if texts[j] == "\n" and texts[j + 1] == "(" and texts[j + 2] in LETTERS and texts[j + 3] == ")":
            end = next((k for k in range(j + 4, len(texts)) if texts[k] == "\n"), len(texts))
            if end > j + 4:
                out.append((j + 2, end - 1))
    return out


def grid_of(num_image_tokens: int, shape: tuple[int, int] | None) -> tuple[int, int]:
    """(rows, cols) of the visual tokens of an image of `shape` (H, W); square if unknown."""
    h, w = shape or (1, 1)
    cols = max(1, round(math.sqrt(num_image_tokens * w / h)))
    return num_image_tokens // cols, cols


def grid_centres(num_image_tokens: int, shape: tuple[int, int] | None) -> list[tuple[float, float]]:
    """(x, y) in [0, 1] of every visual token of a row-major grid."""
    rows, cols = grid_of(num_image_tokens, shape)
    return [((c % cols + 0.5) / cols, (c // cols + 0.5) / rows) for c in range(num_image_tokens)]


# Tokens of one object seen from several inputs (MC-LLaVA's whole image and overlapping
# crops) sit this close; distinct grid cells are always further apart than 0.
SAME_PLACE = 0.06


def where_found(cells: list[int], centres: list[tuple[float, float]], spread: float = 0.0) -> list[float]:
    """(x, y) in [0, 1] of what `cells` hold, and 1, when they are one place (all within
    `spread` of each other: a single grid cell, or the same object in several crops);
    zeros when they are several places."""
    if not cells:
        return [0.0, 0.0, 0.0]
    xs, ys = [centres[c][0] for c in cells], [centres[c][1] for c in cells]
    if len(cells) > 1 and (max(xs) - min(xs) > spread or max(ys) - min(ys) > spread or spread == 0.0):
        return [0.0, 0.0, 0.0]
    return [sum(xs) / len(xs), sum(ys) / len(ys), 1.0]


def pack_row(tok: ByteLevelBPE, num_image_tokens: int, qa: list[dict], attributes: dict | None = None,
             keep: list[int] | None = None, shape: tuple[int, int] | None = None,
             centres: list[tuple[float, float]] | None = None, signs: dict[int, str] | None = None) -> dict:
    """ids, segment ids, labels and position ids of one packed row, and the grounding
    probes: for each question with targets, the position that predicts its answer and the
    sequence positions of its target groups ("answer"); for each question word naming a
    shape or colour present in the scene, that word's position and the tokens holding
    such objects ("word").

    For multiple-choice questions: each option's last text token looks at its letter
    ("letter"), and the answer position at the correct option's last text token ("option"),
    so the letter is copied from the option that names what the image holds.

    keep: the image tokens present in the row (sorted; default all). Dropped tokens leave
    the others at their own position ids, so the row is the full prompt with some
    background keys missing; the questions still start at the full image's end.
    shape: the image's (H, W), for the grid position of what a word found; centres: each
    token's (x, y) in [0, 1] instead (tokens that are not one grid, as MC-LLaVA's).
    signs: image token -> the word of a sign centred there; each kept one is read out as that
    word ("word_readouts": the image token itself, not a question, says the word)."""
    keep = list(range(num_image_tokens)) if keep is None else keep
    spread = 0.0 if centres is None else SAME_PLACE
    centres = grid_centres(num_image_tokens, shape) if centres is None else centres
    at = {c: i for i, c in enumerate(keep)}
    prefix: list[int] = []
    ids, seg, labels, probes, contents, answers, readouts, deep = [], [], [], [], [], [], [], []
    for k, item in enumerate(qa, start=1):
        before, after = split_prompt(tok, item["question"])
        if k == 1:
            prefix = before
            ids = before + [IMAGE_ID] * len(keep)
            seg = [0] * len(ids)
            labels = [IGNORE] * len(ids)
            deep = [IGNORE] * len(ids)
        elif before != prefix:
            raise ValueError("every question must share the prompt text before <image>")
        answer = answer_ids(tok, item["answer"])
        ids += after + answer
        seg += [k] * (len(after) + len(answer))
        labels += [IGNORE] * len(after) + answer
        options = option_lines(tok, after)
        # A multiple-choice letter is unknown before layer 3's option hop: earlier layers
        # are not asked for it (they would learn the letters' prior instead).
        deep += [IGNORE] * len(after) + ([IGNORE] * len(answer) if options else answer)
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
                contents.append((start + j, [int(bool(found & set(attributes.get(n, ())))) for n in ATTRIBUTE_LIST]
                                 + where_found(attributes[name], centres, spread)))
        if named:
            relative = item.get("type", "").removeprefix("mc-") == "relative" and len(named) == 2
            probes.append(("parse", answer_at, [[named[0]], [named[1]]] if relative else [named]))
        groups = [[len(prefix) + at[c] for c in g if c in at] for g in item.get("targets") or [] if g]
        if item.get("type") == "counting":
            # A count survives attention only beside a constant: each target token and the
            # row's first token (the sink) share the mass equally, so the sink's share,
            # 1 / (targets + 1), carries the count (all of it when there is none).
            probes.append(("count", answer_at, [[SINK] + [p for g in groups for p in g]]))
        elif groups and all(groups):
            probes.append(("answer", answer_at, groups))
        for letter, last in options:
            probes.append(("letter", start + last, [[start + letter]]))
            readouts.append((start + last, answer_ids(tok, tok.decode([after[letter]]))[0]))
        if options and item["answer"] in LETTERS[: len(options)]:
            probes.append(("option", answer_at, [[start + options[LETTERS.index(item["answer"])][1]]]))
        answers.append((answer_at, item.get("type", "other")))
    # A word is one or two tokens here (83 of the 150 sign words are two): the read-out asks for
    # each of them equally.
    word_readouts = [(len(prefix) + at[c], answer_ids(tok, word)[:-1]) for c, word in sorted((signs or {}).items()) if c in at]
    shared = len(prefix) + num_image_tokens
    pos = list(range(len(prefix))) + [len(prefix) + c for c in keep]
    for k in range(1, len(qa) + 1):
        pos += list(range(shared, shared + seg.count(k)))
    return {"ids": ids, "seg": seg, "labels": labels, "deep_labels": deep, "pos": pos, "probes": probes, "contents": contents,
            "answers": answers, "readouts": readouts, "word_readouts": word_readouts}


def collate(rows: list[dict]) -> dict:
    width = max(len(r["ids"]) for r in rows)
    pad = lambda key, value: torch.tensor([r[key] + [value] * (width - len(r[key])) for r in rows], dtype=torch.long)  # noqa: E731
    return {"ids": pad("ids", PAD_ID), "seg": pad("seg", PAD_SEGMENT), "labels": pad("labels", IGNORE),
            "deep_labels": pad("deep_labels", IGNORE), "pos": pad("pos", 0),
            "readouts": [(b, q, token) for b, r in enumerate(rows) for q, token in r.get("readouts", [])],
            "word_readouts": [(b, q, tokens) for b, r in enumerate(rows) for q, tokens in r.get("word_readouts", [])],
            "probes": [(kind, b, q, groups) for b, r in enumerate(rows) for kind, q, groups in r.get("probes", [])],
            "contents": [(b, q, vec) for b, r in enumerate(rows) for q, vec in r.get("contents", [])],
            "answers": [(b, q, kind) for b, r in enumerate(rows) for q, kind in r.get("answers", [])]}


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
# they found. Layer 2: that position looks at the answer's own target tokens. Multiple
# choice: layer 1, each option's text looks at its letter; layer 3, the answer position
# looks at the option whose text names what it found.
GROUNDING = {"word": (0,), "parse": (1,), "answer": (2,), "count": (2,), "letter": (1,), "option": (3,)}
SINK = 0  # the row's first token: the same token at the same position in every row
GROUNDING_WEIGHT = 0.5
KIND_WEIGHT = {"answer": 2.0}  # relative to 1 for the other kinds
DEEP_SUPERVISION: tuple[int, ...] = (1, 2)  # layer indices whose output also predicts the answer
DEEP_WEIGHT = 0.5
# Multiple choice: each option's last text token, after layers 1 and 2, also predicts its
# own letter (same norm and lm_head), so the letter its layer-1 hop copied is held where
# layer 3's option hop reads it, in the form the output needs. Without it the answer
# position found the right option (attention mass 0.79) and still wrote the letter at
# chance (mc-attribute 0.22 on training batches).
READOUT_LAYERS: tuple[int, ...] = (1, 2)
READOUT_WEIGHT = 0.5
# The same read-out at a sign's own image token, as that sign's word (DecoderStageConfig.
# word_readout; off in the shipped recipe): reading asks the answer hop to copy a word the
# image token already holds in the output's terms, instead of learning 150 words through it.
ATTRIBUTE_WORDS = frozenset(KINDS) | frozenset(COLOURS)
ATTRIBUTE_LIST = tuple(KINDS) + tuple(COLOURS)
CONTENT_WEIGHT = 0.5
PLACE_WEIGHT = 3.0  # on the squared (x, y) error in [0, 1]: about 0.17 at chance; 10 crowded out
# what the words found (attribute accuracy 0.55 instead of 0.82 on training batches)


class ContentHead(torch.nn.Module):
    """Training only (never exported): from a question word's hidden state after layer 0,
    the shapes and colours of the objects that word found (multi-hot over ATTRIBUTE_LIST)
    and, when it names one object, where that object is (left/right needs both positions
    readable from the words the answer position looks at).
    Without it, what the word's attention reads from the image reaches the answer only
    through two more hops and the final cross-entropy, and was not learnt (a linear probe
    of the answer position stayed at chance after 400 steps, oracle image features)."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = torch.nn.LayerNorm(width)
        self.out = torch.nn.Linear(width, len(ATTRIBUTE_LIST) + 2)  # + where the one object is (x, y)

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
    masses: dict[str, list[torch.Tensor]] = {}
    for layer, weights in probed.items():
        rows = [(kind, groups) for kind, _, _, groups in probes if layer in GROUNDING[kind]]
        for i, (kind, groups) in enumerate(rows):
            for h in range(heads):
                w = weights[i, h, groups[h % len(groups)]]
                # count: the mass shared equally (cross-entropy to uniform); else its sum
                terms.setdefault(kind, []).append((w + 1e-6).log().mean() if kind == "count" else (w.sum() + 1e-6).log())
                masses.setdefault(kind, []).append(w.sum())
    # Each kind weighs the same (word probes outnumber answer probes several times, and the
    # answer hop, which needs the other two, would otherwise learn last), except the answer
    # hop itself: every attribute and existence answer goes through it.
    weight = {kind: KIND_WEIGHT.get(kind, 1.0) for kind in terms}
    total = sum(weight.values())
    loss = sum(-torch.stack(t).mean() * weight[kind] for kind, t in terms.items()) / total
    return loss, {f"mass_{kind}": float(torch.stack(m).mean()) for kind, m in masses.items()}


def accuracy_by_type(hits: torch.Tensor, answers: list) -> dict[str, float]:
    """First-answer-token accuracy per question type (acc_counting, ...), for the log.
    hits: one per segment in row order, as packed_loss scores them; answers: the batch's
    (row, position, type), in the same order."""
    if len(answers) != hits.numel():
        raise ValueError(f"{hits.numel()} first answer tokens for {len(answers)} questions")
    out: dict[str, list[float]] = {}
    for (_, _, kind), hit in zip(answers, hits.tolist()):
        out.setdefault(f"acc_{kind}", []).append(float(hit))
    return {k: sum(v) / len(v) for k, v in out.items()}


def packed_loss(model, batch: dict, image_rows: list[torch.Tensor], grounding: bool = True,
                content_head: ContentHead | None = None, word_readout: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
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
    stats.update(accuracy_by_type(hits, batch["answers"]) if batch.get("answers") else {})
    # Deep supervision: the answer also read (same norm and lm_head) from earlier layers, so
    # the value path image -> word -> answer position gets a short gradient of its own.
    deep = batch.get("deep_labels", batch["labels"])[:, 1:][keep]
    if (deep != IGNORE).any():
        for layer in DEEP_SUPERVISION:
            if layer < len(hidden) - 1:
                loss = loss + DEEP_WEIGHT * F.cross_entropy(head(hidden[layer]).float(), deep, ignore_index=IGNORE)
    for key, weight, name in (("readouts", READOUT_WEIGHT, "readout_acc"), ("word_readouts", word_readout, "word_readout_acc")):
        readouts = batch.get(key) or []
        if not readouts or not weight:
            continue
        b, q = torch.tensor([r[0] for r in readouts]), torch.tensor([r[1] for r in readouts])
        if key == "readouts":  # one letter each
            target = torch.tensor([r[2] for r in readouts])
            right = lambda out: out.argmax(-1) == target  # noqa: E731
        else:  # a word's tokens in equal parts
            target = torch.zeros(len(readouts), model.decoder.lm_head.out_features)
            for i, (_, _, tokens) in enumerate(readouts):
                target[i, tokens] = 1.0 / len(tokens)
            right = lambda out: target.gather(1, out.argmax(-1, keepdim=True))[:, 0] > 0  # noqa: E731
        for layer in READOUT_LAYERS:
            if layer < len(hidden) - 1:
                out = model.decoder.lm_head(model.decoder.norm(hidden[layer][b, q])).float()
                loss = loss + weight * F.cross_entropy(out, target) / len(READOUT_LAYERS)
                stats[f"{name}{layer}"] = float(right(out).float().mean())
    contents = batch.get("contents") or []
    if content_head is not None and contents:
        b = torch.tensor([c[0] for c in contents])
        q = torch.tensor([c[1] for c in contents])
        target = torch.tensor([c[2] for c in contents], dtype=torch.float32)
        k = len(ATTRIBUTE_LIST)
        out = content_head(hidden[0][b, q])
        logits_c, where, mask = out[:, :k], torch.sigmoid(out[:, k:]), target[:, k + 2]
        content = F.binary_cross_entropy_with_logits(logits_c, target[:, :k])
        place = (((where - target[:, k : k + 2]) ** 2).sum(-1) * mask).sum() / mask.sum().clamp(min=1)
        stats["content"] = float(content)
        stats["content_acc"] = float(((logits_c > 0).float() == target[:, :k]).all(-1).float().mean())
        stats["place_err"] = float(place.sqrt())
        loss = loss + CONTENT_WEIGHT * (content + PLACE_WEIGHT * place)
    if probed:
        ground, masses = grounding_loss(probed, probes)
        stats["grounding"] = float(ground)
        stats.update(masses)
        loss = loss + GROUNDING_WEIGHT * ground
    return loss, stats
