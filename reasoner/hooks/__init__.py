"""A CDS Hooks 2.0 service: dorsum advice at the point of care (extra: dorsum[hooks])."""
