"""FHIR R4 in and out: a Questionnaire generated from the knowledge, and FHIR resources read as cases."""
