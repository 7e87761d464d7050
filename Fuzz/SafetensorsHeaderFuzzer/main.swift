import Weights
print("fuzz placeholder")
