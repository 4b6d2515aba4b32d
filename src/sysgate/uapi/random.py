"""getrandom flags (include/uapi/linux/random.h)."""

from typing import Final

GRND_NONBLOCK: Final = 0x0001
GRND_RANDOM: Final = 0x0002
GRND_INSECURE: Final = 0x0004
