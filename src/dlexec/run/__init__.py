"""Stage 4, running a snippet: the executor interface (`base`) and its factory (`choose`), the
local pool and the Ray executor, the kernel, its sandbox and the resources it may use."""
