"""Loupe-Synth: train, evaluate and export a small ConvLLaVA (and its ViT-336 control)
on synthetic high-resolution scenes. See training/README.md, "Loupe-Synth"."""
