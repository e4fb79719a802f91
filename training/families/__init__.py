"""Tiny random VLMs in the layouts of published browser bundles (REAL-MODELS.md §1):
FastVLM (`llava_qwen2`, hybrid conv/attention tower of stride 64, Qwen2 decoder) and
LLaVA-1.5 (`llava`, CLIP ViT/14 with CLS dropped, Llama decoder). Built by
`python -m training.make_family_bundles`.
"""
