# Commands and tools of the trainer module (owned by it).
