// placeholder: the sampling pipeline lands here
