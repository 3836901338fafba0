"""Synthetic Tianjin population as department extracts, with the answer key (`canbao generate`).

Public face: ``generate`` writes the files; ``load_rates`` reads the rates it uses.
"""
from resolver.synth.generate import GenerationSummary, generate
from resolver.synth.rates import SynthRates, default_rates_text, load_rates
from resolver.synth.writers import FileInfo

__all__ = ["FileInfo", "GenerationSummary", "SynthRates", "default_rates_text", "generate", "load_rates"]
