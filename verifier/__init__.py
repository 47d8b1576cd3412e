"""verifier: checks Shenzhen carbon-inclusion (碳普惠) filings against their methodology."""

__version__ = "0.1.0"
