"""The case definitions: the classic matrix (classic.py) and the slow-client scenarios
(slowclients.py)."""
