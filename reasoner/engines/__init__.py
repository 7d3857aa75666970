"""Generic engines: compiled OWL 2 RL rules, a compiled SHACL Core validator, SPARQL footprints and
an Oxigraph query store, and the guard every SPARQL text passes before an engine sees it
(sparql_text). No clinical terms live here."""
