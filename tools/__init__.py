"""Developer tools kept in the repository and out of the wheel (font subsetting, test-data synthesis)."""
