"""The case knowledge graph: a persistent store of triaged cases and its SPARQL endpoint."""
