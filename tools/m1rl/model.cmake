# Commands and tools of the model module (owned by it).
