"""The audit: `run.audit` calls every search and analysis and returns a `result.Audit`; `problems`
names what it counts and the thresholds; `summary` writes the ten-second texts."""
