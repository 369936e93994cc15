"""sdk-numpy: a Flower / NumPy app."""
