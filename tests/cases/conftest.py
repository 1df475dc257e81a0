from tests.factories.fast_hashing import fast_password_hashing

__all__ = ["fast_password_hashing"]
