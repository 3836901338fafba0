"""canbao's resolver: department files → canonical records → persons → statuses."""
