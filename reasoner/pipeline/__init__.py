"""The triage pipeline, one module a stage: read, validate, infer (derive + OWL RL), report, plan,
triage, query."""
