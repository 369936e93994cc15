"""quickstart-numpy: a Flower / NumPy app."""
