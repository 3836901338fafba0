"""canbao command line."""
