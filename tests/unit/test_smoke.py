"""The fixtures work: a handler runs on the fake-free task and sees its memory."""

from sysgate.uapi.errno import Errno
from tests.conftest import KERNEL_ADDR, USER_BUF, sys


def test_getpid_matches_task(task) -> None:
    assert sys(task, "getpid") == task.pid


def test_write_bad_pointer_is_efault(task) -> None:
    assert sys(task, "write", 1, KERNEL_ADDR, 4) == -Errno.EFAULT


def test_uname_fills_memory(task) -> None:
    assert sys(task, "uname", USER_BUF) == 0
    assert task.mm.read(USER_BUF, 5) == b"Linux"
