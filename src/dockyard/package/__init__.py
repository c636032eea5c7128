"""Packaging: turn a model directory into a build plan and Dockerfile text.

Everything here is pure. The caller (``dockyard.server.builds``) lists the directory,
reads the few files a decision needs, and hands that description in; this package
decides what kind of build it is (framework, extend, bring-your-own-container) and
renders the Dockerfiles. No file system, no engine, no pip: that is the caller's job.
"""
