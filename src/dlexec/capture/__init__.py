"""Stage 3, from a kernel's raw messages to typed outputs: cleaned text, checked figures,
training curves; and `_kernel`, the helper that runs inside the kernel."""
