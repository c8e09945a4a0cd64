"""Authentication, authorization and the limits that keep hostile clients out."""
