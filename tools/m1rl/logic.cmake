# Commands of the logic tasks (owned by the logic engineer).
