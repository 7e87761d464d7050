import Tensor
print("dbbench")
