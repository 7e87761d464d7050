print("dbtrain: placeholder")
