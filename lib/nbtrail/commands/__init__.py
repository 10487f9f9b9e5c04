"""One module per CLI verb; each only parses arguments, calls the library and prints."""
