print("dbrenderd placeholder")
