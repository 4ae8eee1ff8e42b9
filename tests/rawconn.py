"""Kept for the test files that import it: the raw connection lives in ``tests.helpers``."""

from tests.helpers.wire import IO_TIMEOUT, MAX_RESPONSE, TERMINATOR, RawConnection, assert_error

__all__ = ["IO_TIMEOUT", "MAX_RESPONSE", "TERMINATOR", "RawConnection", "assert_error"]
