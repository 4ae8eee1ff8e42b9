"""The clients and files a load is made of: the clients that wait (background.py), the
LIST probe (latency.py), random test files (testfiles.py), the Locust user's payload
files (payload.py) and the machine's ceiling (limit.py)."""
