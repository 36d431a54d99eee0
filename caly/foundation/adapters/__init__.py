"""Libraries' private names, each library's in one module here with a test that fails when the library
changes (tests/test_library_adapters.py). The rest of the code goes through these modules."""
