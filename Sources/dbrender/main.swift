print("dbrender placeholder")
