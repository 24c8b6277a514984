# Commands and tools of the kernels module (owned by it).
