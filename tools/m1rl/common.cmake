# Commands and tools of the common module (owned by it).
