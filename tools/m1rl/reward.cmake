# Commands and tools of the reward module (owned by it).
