"""The Qwen2 side of the FastVLM bundle: ChatML added tokens (at the end of the vocab, as
in Qwen2, with `<image>` after them as FastVLM adds it), Qwen2-Instruct's chat template,
its Python twin, and `tokenizer_config.json`.

The BPE itself is the repo's byte-level trainer (`tokenizer_bpe.ByteLevelBPE`) on the
fixed corpus plus ChatML lines, so the ids are reproducible anywhere.
"""

from __future__ import annotations

from ..corpus import CORPUS
from ..tokenizer_bpe import ByteLevelBPE

ENDOFTEXT, IM_START, IM_END, IMAGE = "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END, IMAGE)
DEFAULT_SYSTEM = "You are a helpful assistant."

_CHATML_LINES = [
    f"system\n{DEFAULT_SYSTEM}\n",
    "user\nWhat is in the image?\n",
    "assistant\nThe image shows a red circle.\n",
]
QWEN_CORPUS = CORPUS + "\n" + "".join(_CHATML_LINES) * 3

# Qwen2-Instruct's template (tokenizer_config.json of Qwen/Qwen2-0.5B-Instruct).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def train_tokenizer(vocab_size: int) -> ByteLevelBPE:
    return ByteLevelBPE.train(QWEN_CORPUS, vocab_size, special_tokens=SPECIAL_TOKENS, specials_last=True)


def render_chatml(messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
    """Python twin of CHAT_TEMPLATE (no jinja2 here); the parity test checks that
    transformers.js renders the template to the same string."""
    text = ""
    if messages and messages[0]["role"] != "system":
        text += f"{IM_START}system\n{DEFAULT_SYSTEM}{IM_END}\n"
    for message in messages:
        text += f"{IM_START}{message['role']}\n{message['content']}{IM_END}\n"
    if add_generation_prompt:
        text += f"{IM_START}assistant\n"
    return text


def tokenizer_config(tokenizer: ByteLevelBPE, model_max_length: int) -> dict:
    return {
        "tokenizer_class": "Qwen2Tokenizer",
        "bos_token": None,
        "eos_token": IM_END,
        "pad_token": ENDOFTEXT,
        "unk_token": None,
        "add_prefix_space": False,
        "errors": "replace",
        "split_special_tokens": False,
        # The repo's decode(encode(x)) == x round trip needs this off (Qwen2 ships it off too).
        "clean_up_tokenization_spaces": False,
        "model_max_length": model_max_length,
        "added_tokens_decoder": {
            str(tokenizer.vocab[t]): {
                "content": t,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            }
            for t in SPECIAL_TOKENS
        },
        "additional_special_tokens": [IM_START, IM_END],
        "chat_template": CHAT_TEMPLATE,
    }
