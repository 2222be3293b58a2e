print("moectl: not yet")
