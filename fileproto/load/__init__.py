"""The clients and files a load is made of: the clients that wait (background.py), the
LIST probe (latency.py), test files (testfiles.py) and the machine's ceiling (limit.py)."""
