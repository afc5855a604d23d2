"""The Matrix (Tchap) integration."""

from integrations.matrix.adapter import MatrixError, MatrixIntegration

__all__ = ["MatrixError", "MatrixIntegration"]
