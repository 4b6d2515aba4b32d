"""Futex operations and the FUTEX_WAKE_OP encoding (include/uapi/linux/futex.h)."""

from typing import Final

FUTEX_WAIT: Final = 0
FUTEX_WAKE: Final = 1
FUTEX_FD: Final = 2
FUTEX_REQUEUE: Final = 3
FUTEX_CMP_REQUEUE: Final = 4
FUTEX_WAKE_OP: Final = 5
FUTEX_LOCK_PI: Final = 6
FUTEX_UNLOCK_PI: Final = 7
FUTEX_TRYLOCK_PI: Final = 8
FUTEX_WAIT_BITSET: Final = 9
FUTEX_WAKE_BITSET: Final = 10
FUTEX_WAIT_REQUEUE_PI: Final = 11
FUTEX_CMP_REQUEUE_PI: Final = 12
FUTEX_LOCK_PI2: Final = 13

FUTEX_PRIVATE_FLAG: Final = 128
FUTEX_CLOCK_REALTIME: Final = 256
FUTEX_CMD_MASK: Final = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)

FUTEX_BITSET_MATCH_ANY: Final = 0xFFFFFFFF

# FUTEX_WAKE_OP's val3: op << 28 | cmp << 24 | oparg << 12 | cmparg, where bit 31 of
# op (FUTEX_OP_OPARG_SHIFT << 28) makes oparg a shift count.
FUTEX_OP_SET: Final = 0
FUTEX_OP_ADD: Final = 1
FUTEX_OP_OR: Final = 2
FUTEX_OP_ANDN: Final = 3
FUTEX_OP_XOR: Final = 4
FUTEX_OP_OPARG_SHIFT: Final = 8

FUTEX_OP_CMP_EQ: Final = 0
FUTEX_OP_CMP_NE: Final = 1
FUTEX_OP_CMP_LT: Final = 2
FUTEX_OP_CMP_LE: Final = 3
FUTEX_OP_CMP_GT: Final = 4
FUTEX_OP_CMP_GE: Final = 5
