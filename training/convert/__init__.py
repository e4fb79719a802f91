"""Released checkpoints -> Loupe bundles (`npm run convert`). See training/README.md."""
