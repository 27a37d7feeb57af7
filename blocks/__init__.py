"""Pure PyTorch: the block registry, the blocks, spec validation and the compiler. Never imports Django."""
