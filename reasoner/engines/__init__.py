"""Generic engines: compiled OWL 2 RL rules, a compiled SHACL Core validator, SPARQL footprints and
an Oxigraph query store. No clinical terms live here."""
