print("policy benchmark: todo")
