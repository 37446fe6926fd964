"""The paper's reported rows as result entries (JSON, protocol `official`, source `reported`)."""
