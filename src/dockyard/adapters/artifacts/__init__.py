"""Artifact stores: where model archives and training outputs live (local disk today)."""
