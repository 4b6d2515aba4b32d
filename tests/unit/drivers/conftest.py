"""The drivers' tests run in a root folder, where the kernel's /dev is."""

from tests.unit.fs.rootfixture import box  # noqa: F401 - the confined task
