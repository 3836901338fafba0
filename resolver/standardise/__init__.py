"""Pure standardisation of dirty Chinese identity data (IDs, names, addresses, dates, phones, gender)."""
