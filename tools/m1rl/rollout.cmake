# Commands and tools of the rollout module (owned by it).
