"""What the OpenAPI contract needs beside the schema itself: the fuzzer's values for the schema's custom formats."""
