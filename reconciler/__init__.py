"""rlcm: a declarative GitOps reconciler for Workato recipe lifecycle management."""

__version__ = "0.1.0"
__all__ = ["__version__"]
